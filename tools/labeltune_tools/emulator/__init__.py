"""An OpenAI API emulator (like moto for AWS): a loopback HTTP server the real `openai` SDK talks to.

    with OpenAIEmulator(job_duration_seconds=0.3) as emulator:
        client = OpenAI(base_url=emulator.base_url, api_key="test")

See docs/emulator.md for what is emulated and how faithfully.
"""

from labeltune_tools.emulator.faults import FaultPlan, InjectedFault, Stall
from labeltune_tools.emulator.server import Exchange, OpenAIEmulator
from labeltune_tools.emulator.webhooks import WebhookDelivery, generate_webhook_secret

__all__ = [
    "Exchange",
    "FaultPlan",
    "InjectedFault",
    "OpenAIEmulator",
    "Stall",
    "WebhookDelivery",
    "generate_webhook_secret",
]
