"""The dataset builder: Labelbox export rows -> validated, deduplicated, split OpenAI chat fine-tuning JSONL,
with a token and cost report. Pure core: no AWS, no network (token encodings load from tiktoken's cache).

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
