"""ModelServing for OpenAI: a fine-tuned model is served by its name as soon as its job succeeds.

Apart from the OpenAI adapter so that the function that serves models imports no SDK for it.
"""

from __future__ import annotations

from labeltune.domain.models import EndpointState, ModelEndpoint


class OpenAIServing:
    """Nothing to create, wait for or delete: the endpoint is the model's name."""

    def serve(self, run_id: str, tuned_model: str) -> ModelEndpoint:
        return self.endpoint(tuned_model)

    def endpoint(self, endpoint_id: str) -> ModelEndpoint:
        return ModelEndpoint(endpoint_id=endpoint_id, model_id=endpoint_id, state=EndpointState.READY, status="served")

    def release(self, run_id: str) -> list[str]:
        return []
