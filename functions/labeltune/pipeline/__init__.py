"""The pipeline's steps: plain functions over the ports, one per state of the state machine."""
