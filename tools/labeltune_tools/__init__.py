"""labeltune's tooling, never deployed: the `labeltune` command, the embedded local stack (moto, the OpenAI
emulator, the API under uvicorn), the sample-data generator, and the Labelbox connect/check logic.

It imports the runtime package (`labeltune`, under functions/); the runtime never imports it.
"""
