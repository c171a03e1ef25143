"""An Amazon Bedrock emulator: one loopback HTTP server for boto3's `bedrock` and `bedrock-runtime` clients.

    with BedrockEmulator(s3_client=s3, job_duration_seconds=0.3) as emulator:
        bedrock = boto3.client("bedrock", endpoint_url=emulator.endpoint_url)
        runtime = boto3.client("bedrock-runtime", endpoint_url=emulator.endpoint_url)

See docs/bedrock_emulator.md for what is emulated and how faithfully.
"""

from labeltune_tools.bedrock_emulator.events import DETAIL_TYPE, SOURCE, STATUS_FIELD, job_state_change_event
from labeltune_tools.bedrock_emulator.faults import BedrockFaultPlan, InjectedFault, Stall
from labeltune_tools.bedrock_emulator.server import BedrockEmulator, Exchange

__all__ = [
    "DETAIL_TYPE",
    "SOURCE",
    "STATUS_FIELD",
    "BedrockEmulator",
    "BedrockFaultPlan",
    "Exchange",
    "InjectedFault",
    "Stall",
    "job_state_change_event",
]
