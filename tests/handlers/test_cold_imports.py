"""A cold start imports only what the function runs: each handler, imported in a fresh interpreter as the
Lambda runtime does, leaves none of the heavy SDKs its function never uses in sys.modules.

The webhook (the API function) uses none of them. Those a step does use (openai, labelbox) are imported at
its first use (wiring.py); the dataset builder only by PrepareDataset. benchmarks/bench_cold_start.py
measures the time these imports take.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = frozenset({"openai", "labelbox", "numpy", "nltk", "tiktoken", "rouge_score"})
BUILDER = "labeltune.dataset"  # the dataset builder: PrepareDataset's work alone

# handler -> the modules a cold import of it must not leave in sys.modules
FORBIDDEN: dict[str, frozenset[str]] = {
    "api": HEAVY | {BUILDER, "labeltune.catalog"},  # the catalog: the configuration routes import it when called
    "export_labels": (HEAVY - {"labelbox"}) | {BUILDER},
    "prepare_dataset": HEAVY - {"tiktoken"},
    "start_fine_tune": (HEAVY - {"openai"}) | {BUILDER},
    "check_fine_tune": (HEAVY - {"openai"}) | {BUILDER},
    "serve_model": HEAVY | {BUILDER},  # OpenAI needs no call to serve; Bedrock is boto3, in the runtime
    "evaluate": (HEAVY - {"openai", "nltk"}) | {BUILDER},  # ROUGE-L stems with nltk; no numpy, no rouge_score
    "record_outcome": (HEAVY - {"openai"}) | {BUILDER},
    "publish_predictions": HEAVY | {BUILDER},  # labelbox: only when a project has predictions on
}

PROBE = """
import json, sys
import labeltune.handlers.{handler}
print(json.dumps(sorted(name for name in {forbidden!r} if name in sys.modules)))
"""


def _lambda_like_environment() -> dict[str, str]:
    """Lambda's environment as far as Powertools looks: the Tracer enabled, so it patches what it patches in
    Lambda (an import it triggers counts too)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    env.update(
        LAMBDA_TASK_ROOT=os.getcwd(),
        AWS_LAMBDA_FUNCTION_NAME="labeltune-cold-import-test",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_SERVICE_NAME="labeltune",
        POWERTOOLS_METRICS_NAMESPACE="LabelTune",
    )
    return env


@pytest.mark.parametrize("handler", sorted(FORBIDDEN))
def test_a_cold_import_of_the_handler_leaves_out_what_its_function_never_uses(handler: str) -> None:
    probe = PROBE.format(handler=handler, forbidden=sorted(FORBIDDEN[handler]))
    result = subprocess.run(
        [sys.executable, "-c", probe], env=_lambda_like_environment(), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == []


def test_preparedataset_is_importable_without_the_builder_and_the_probe_sees_what_is_imported() -> None:
    """The fine-tune and evaluation steps import PreparedDataset from pipeline.prepare: that alone must not
    import the builder. Then the same probe sees the builder once it is imported (the check above can fail)."""
    probe = "import json, sys, labeltune.pipeline.prepare\n"
    probe += f"print(json.dumps([{BUILDER!r} in sys.modules, 'tiktoken' in sys.modules]))\n"
    probe += "import labeltune.dataset\n"
    probe += f"print(json.dumps([{BUILDER!r} in sys.modules]))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert [json.loads(line) for line in result.stdout.splitlines()[-2:]] == [[False, False], [True]]
