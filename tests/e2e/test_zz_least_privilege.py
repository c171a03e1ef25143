"""Least privilege, checked from both sides once every end-to-end test has run (this file's name sorts last):
every call a function made is allowed (test_iam_check), and every grant a function has was needed by some call,
but for the few below, each needed only on a path the tests do not take against the local stack."""

from __future__ import annotations

from labeltune_tools.embedded.iam_check import unused_grants
from labeltune_tools.embedded.lambda_runtime import RUNTIME
from labeltune_tools.embedded.stack import EmbeddedStack

# (function, action, what the resource is) -> why the grant stays although no test's call needed it
JUSTIFIED = {
    ("ApiFunction", "dynamodb:DeleteItem", "IdempotencyTable"): "Powertools deletes the record when processing fails",
    ("ApiFunction", "dynamodb:GetItem", "IdempotencyTable"): "Powertools reads a record its put did not return",
    ("ApiFunction", "secretsmanager:GetSecretValue", "LabelboxWebhookSecret"): "only with SharedWebhookSecret=enabled",
    # Presigning is local signing, not a call: the reader's GET of the link is what this grant allows.
    ("ApiFunction", "s3:GetObject", "report.html"): "the presigned link to a run's report",
    ("ExportLabelsFunction", "secretsmanager:GetSecretValue", "LabelboxApiKeySecret"): "only with LabelSource=labelbox",
    ("ExportLabelsFunction", "s3:ListBucket", "artifactsbucket"): "S3 answers 404, not 403, for a missing export",
    ("EvaluateFunction", "s3:ListBucket", "artifactsbucket"): "S3 answers 404, not 403, for a chunk not done yet",
    ("PublishPredictionsFunction", "s3:AbortMultipartUpload", "predictions/"): "a failed multipart upload",
    ("PublishPredictionsFunction", "s3:ListBucket", "artifactsbucket"): "S3 answers 404, not 403, for a new batch",
    ("PublishPredictionsFunction", "secretsmanager:GetSecretValue", "LabelboxApiKeySecret"): "LabelSource=labelbox",
    ("ExportLabelsFunction", "s3:AbortMultipartUpload", "runs/"): "a failed multipart upload of a large snapshot",
    ("PrepareDatasetFunction", "s3:AbortMultipartUpload", "runs/"): "a failed multipart upload of a large dataset",
    ("EvaluateFunction", "s3:AbortMultipartUpload", "runs/"): "a failed multipart upload of large results",
    ("RecordOutcomeFunction", "sqs:SendMessage", "UndeliveredEventsQueue"): "an event it could not handle",
    ("CheckFineTuneFunction", "dynamodb:GetItem", "RunsTable"): "recording an extra job (a create that landed late)",
    ("RecordOutcomeFunction", "states:DescribeExecution", "pipeline"): "a follow-up that finds a dead claim",
    ("RecordOutcomeFunction", "states:StartExecution", "pipeline"): "a follow-up run",
    # Bedrock's clientRequestToken makes a create idempotent, so an extra job (a create that landed after its
    # answer was lost, then another) needs Bedrock itself to misbehave; stopping one stays possible.
    ("StartFineTuneFunction", "bedrock:StopModelCustomizationJob", "model-customization-job"): "an extra job",
    ("CheckFineTuneFunction", "bedrock:StopModelCustomizationJob", "model-customization-job"): "an extra job",
    ("ServeModelFunction", "bedrock:ListCustomModelDeployments", "*"): "a retried serve finds its deployment",
    # A run cancelled while its deployment was being created: the serving step deletes what it made (a race the
    # local stack's tests do not time; tests/pipeline/test_cancel.py covers it on fakes).
    ("ServeModelFunction", "bedrock:DeleteCustomModelDeployment", "custom-model-deployment"): "a late deployment",
    ("EvaluateFunction", "bedrock:InvokeModel", "inference-profile/us.amazon.nova-"): "Nova 2 Lite's base model",
    # The live model catalog is off on the local stack (its emulators stand in with real dates); the adapters are
    # tested against the emulators in tests/adapters/test_model_listings.py.
    ("ApiFunction", "bedrock:ListFoundationModels", "*"): "the live model catalog",
    ("ApiFunction", "secretsmanager:GetSecretValue", "OpenAIApiKeySecret"): "the live model catalog (OpenAI)",
    ("ExportLabelsFunction", "bedrock:ListFoundationModels", "*"): "the live model catalog",
    ("ExportLabelsFunction", "secretsmanager:GetSecretValue", "OpenAIApiKeySecret"): "the live model catalog",
    # Resumed by an event first, or by the fallback check first: both are tried, one of them finds the job.
    ("BedrockJobEventsFunction", "bedrock:StopModelCustomizationJob", "model-customization-job"): "an extra job",
    ("BedrockJobEventsFunction", "sqs:SendMessage", "UndeliveredEventsQueue"): "an event it could not handle",
    # SAM's grant for the stream mapping's on-failure destination: Lambda sends it, not the function's code.
    ("RunEventsFunction", "sqs:SendMessage", "UndeliveredEventsQueue"): "a stream batch that kept failing",
}


def _justified(function: str, action: str, resource: str) -> bool:
    name = function.rsplit("-", 1)[-1]
    return any(f == name and a == action and what in resource for f, a, what in JUSTIFIED)


def test_no_function_holds_a_grant_it_does_not_use(stack: EmbeddedStack) -> None:
    assert stack.resources is not None
    unused = [
        g
        for g in unused_grants(RUNTIME.calls, stack.resources.role_policies, stack.resources.region)
        if not _justified(g.function, g.action, g.resource)
    ]
    assert unused == [], "\n".join(f"{g.function} {g.action} {g.resource}" for g in unused)
