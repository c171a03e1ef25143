"""The dataset builder: Labelbox export rows -> validated, deduplicated, split fine-tuning JSONL in the
project's provider's format (OpenAI's chat format, or Bedrock's bedrock-conversation-2024 for Amazon Nova: see
`labeltune.dataset.formats`), with a token and cost report. Pure core: no AWS, no network (token encodings
load from tiktoken's cache; the model catalog and the price table are files shipped with the code).

`build_dataset` is the one entry point, shared by the PrepareDataset state and `labeltune dataset build`.
"""

from labeltune.dataset.builder import FILES, SPLITS, DatasetBuilder, DatasetSink, DirectorySink, build_dataset
from labeltune.dataset.pricing import PriceTable, load_price_table
from labeltune.dataset.report import DatasetReport

__all__ = [
    "FILES",
    "SPLITS",
    "DatasetBuilder",
    "DatasetReport",
    "DatasetSink",
    "DirectorySink",
    "PriceTable",
    "build_dataset",
    "load_price_table",
]
