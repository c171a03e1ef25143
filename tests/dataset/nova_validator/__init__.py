"""AWS's Amazon Nova fine-tuning dataset validator, vendored as an independent check of the builder's Bedrock
output (see README.md here: where it came from, which commit, what was changed)."""
