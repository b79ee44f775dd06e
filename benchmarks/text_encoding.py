"""The image families' texts encoded a batch at a time (one tokenizer call) beside one call per text.

For each of the projector, adapter, flamingo and git families: the prompts and targets of 256 built-in captions
samples (64 px images; the images are not processed here, only the texts), through the processor's
`joined_many`, against `prompt_ids` and `sample_target_ids` sample by sample; best of 5 timings, the two
variants alternated `repeats` times. The ids must be equal.
"""

from __future__ import annotations

import copy
from typing import Any

from benchmarks.common import best_of, threads_flag
from benchmarks.new_families import MODELS, TOKENIZER, VIT
from plait.bench.report import section
from plait.config.schema import Experiment
from plait.models.family import BuildOptions, get_family
from plait.pipeline import prepare_data

LLAMA = {"model_type": "llama", "hidden_size": 256, "intermediate_size": 1024, "num_hidden_layers": 4,
         "num_attention_heads": 8, "num_key_value_heads": 8, "max_position_embeddings": 256}
FAMILIES: dict[str, dict[str, Any]] = {
    "projector": MODELS["projector"],
    "adapter": {"family": "adapter", "vision": {"config": {**VIT, "model_type": "clip_vision_model"}, "every": 2},
                "language": {"config": LLAMA}, "tokenizer": TOKENIZER},
    "flamingo": MODELS["flamingo (every 2nd, BabyLM)"],
    "git": MODELS["git"],
}



class TextEncoding:
    """Texts of a batch through one tokenizer call, for every image family."""

    name = "text-encoding"
    size = 256

    def run(self, repeats: int) -> tuple[str, bool]:
        rows, equal = [], True
        for name, model in FAMILIES.items():
            exp = Experiment.model_validate({
                "name": "bench-text-encoding", "seed": 0, "model": copy.deepcopy(model),
                "data": {"source": {"kind": "builtin_captions", "train_size": self.size, "validation_size": 0,
                                    "test_size": 0, "image_size": 64}},
                "eval": {"splits": []}})
            data = prepare_data(exp, dry_run=False)
            processor = get_family(exp.model.family).build(exp.model, data.splits["train"], BuildOptions()).processor
            samples = data.splits["train"]
            targets = (processor.target_parts if hasattr(processor, "target_parts")
                       else lambda s: [s.target, [processor.tokenizer.eos_token_id]])  # the projector's

            def batched() -> list[list[int]]:
                return processor.joined_many([processor.prompt_parts(s) for s in samples] +
                                             [targets(s) for s in samples])

            def one_by_one() -> list[list[int]]:
                prompts = [processor.prompt_ids(s) for s in samples]
                return prompts + [processor.target_ids(s.target) if not hasattr(processor, "sample_target_ids")
                                  else processor.sample_target_ids(s) for s in samples]

            equal &= batched() == one_by_one()
            one, many = [], []
            for _ in range(repeats):
                one.append(best_of(one_by_one))
                many.append(best_of(batched))
            rows.append((name, min(one), min(many)))
        body = "\n".join(["| family | one call per text ms | one call per batch ms | speed-up |", "|---|---|---|---|"]
                         + [f"| {n} | {1000 * a:.1f} | {1000 * b:.1f} | {a / b:.1f}x |" for n, a, b in rows])
        notes = [f"the prompts and targets of {self.size} built-in captions samples; least of {repeats} rounds "
                 "(each the best of 5), the variants alternated",
                 "ids equal to one call per text: " + ("yes" if equal else "NO")]
        return section("Texts of a batch in one tokenizer call, per image family",
                       f"python -m benchmarks text-encoding --repeats {repeats}" + threads_flag(), body, notes), equal
