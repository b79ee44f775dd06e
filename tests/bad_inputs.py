"""The bad-input table (issue 18): one row per case, what it sets up, the command, and what a user must see.

tests/integration/test_bad_inputs.py runs every row; tests/BAD_INPUTS.md is generated from the same table
(`python -m tests.bad_inputs > tests/BAD_INPUTS.md`, checked by a test). Each setup writes its files into a
fresh folder and returns the `plait` arguments; `ctx.run` is a copy of one tiny trained run when a case
damages a run directory. Most cases fail before any model is built.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from tests.bad_input_setups import (ADAPTER, BERT, FLAMINGO, GIT, GPT2, LLAMA, SHAPES, TEXT, TEXT_DATA, cc3m, changed,
                                    family, family_with, glue_from, glue_suite, killed_run, mix, mix_of, scienceqa,
                                    teacher_at, text, text_files, text_with_teacher, with_teacher)
from tests.tiny import tiny

MAPPER = {
    "family": "mapper",
    "mapper": {"kind": "linear"},
    "backbone": {"config": {"model_type": "m2m_100", "d_model": 16, "encoder_layers": 1, "decoder_layers": 1,
                            "encoder_attention_heads": 2, "decoder_attention_heads": 2, "encoder_ffn_dim": 32,
                            "decoder_ffn_dim": 32, "max_position_embeddings": 64}},
    "tokenizer": {"train": {"kind": "wordlevel", "vocab_size": 32}},
}


@dataclass
class Ctx:
    """What a setup may use: its own folder, and (for run-directory cases) a copy of the tiny trained run."""

    folder: Path
    run: Path | None = None

    def experiment(self, name: str = "exp", **updates) -> Path:
        """A tiny experiment YAML (output in folder/runs) with dotted-key updates."""
        data = tiny(**updates)
        data["name"] = name
        data.setdefault("output_dir", str(self.folder / "runs"))
        path = self.folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def manifest(self, name: str, rows: list[dict] | None = None, text: str | bytes | None = None) -> Path:
        """A manifest file: JSONL rows, or raw text/bytes."""
        path = self.folder / name
        if text is None:
            text = "".join(json.dumps(r) + "\n" for r in rows or [])
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return path

    def image(self, name: str = "ok.png") -> Path:
        """A small valid PNG."""
        from PIL import Image

        path = self.folder / name
        Image.new("RGB", (16, 16), (200, 0, 0)).save(path)
        return path

    def manifest_experiment(self, train: Path, **updates) -> list[str]:
        return ["run", str(self.experiment(**{"data.source": {"kind": "manifest", "train": str(train)}, **updates})),
                "--no-progress"]

    def signal_experiment(self, signal: Path) -> list[str]:
        """A mapper experiment whose only training row reads `signal` (.npy or .pose)."""
        tsv = self.folder / "train.tsv"
        tsv.write_text("signal\tsignal_start\tsignal_end\tencoder_prompt\tdecoder_prompt\toutput\n"
                       f"{signal.name}\t0\t0\t\t\thallo welt\n")
        return ["run", str(self.experiment(**{"model": MAPPER, "data.source": {"kind": "tsv", "train": str(tsv)},
                                              "eval.metrics": ["bleu"]})), "--no-progress"]


@dataclass(frozen=True)
class Case:
    """One bad input."""

    id: str
    input: str
    """The bad input, in words (the docs table's first column)."""
    setup: Callable[[Ctx], list[str]]
    """Writes files into ctx.folder; returns the plait arguments."""
    expect: str
    """A fragment of the one-line message (stderr), or of stdout for commands that go on."""
    code: int = 2
    needs_run: bool = False
    """Gets a copy of the tiny trained run as ctx.run."""
    leaves: str = "nothing"
    """What the command leaves behind: nothing (no new run directory), or what else."""
    tags: tuple[str, ...] = field(default=())


def bomb_png(path: Path, width: int = 20_000, height: int = 20_000) -> Path:
    """A PNG whose header claims width x height pixels (400 Mpx) over a few bytes of data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def _yaml_dup(c: Ctx) -> list[str]:
    path = c.experiment()
    path.write_text(path.read_text() + "train:\n  lr: 0.1\n")
    return ["validate", str(path)]


def _yaml_latin1(c: Ctx) -> list[str]:
    path = c.experiment()
    path.write_bytes(path.read_bytes() + "tags: {owner: J\xfcrgen}\n".encode("latin-1"))
    return ["validate", str(path)]


def _python(body: str) -> Callable[[Ctx], list[str]]:
    def setup(c: Ctx) -> list[str]:
        (c.folder / "exps.py").write_text(body)
        return ["validate", f"{c.folder / 'exps.py'}:make"]
    return setup


def _rows(image: bool = True, target: bool = True) -> Callable[[Ctx], list[str]]:
    def setup(c: Ctx) -> list[str]:
        img = c.image()
        row = {"id": "a", "prompt": "what?"}
        if image:
            row["image"] = img.name
        if target:
            row["target"] = "red"
        return c.manifest_experiment(c.manifest("train.jsonl", [{**row, "id": str(i)} for i in range(4)]
                                                + [{"id": "full", "image": img.name, "prompt": "q", "target": "t"}]))
    return setup


def _npy(array: np.ndarray) -> Callable[[Ctx], list[str]]:
    def setup(c: Ctx) -> list[str]:
        np.save(c.folder / "sig.npy", array)
        return c.signal_experiment(c.folder / "sig.npy")
    return setup


def _garbage_pose(c: Ctx) -> list[str]:
    (c.folder / "sig.pose").write_bytes(b"\x00\x01not a pose file" * 7)
    return c.signal_experiment(c.folder / "sig.pose")


def _bomb(c: Ctx) -> list[str]:
    bomb_png(c.folder / "bomb.png")
    return c.manifest_experiment(c.manifest("train.jsonl", [{"id": "0", "image": "bomb.png", "prompt": "q",
                                                             "target": "t"}]))


def _output_file(c: Ctx) -> list[str]:
    (c.folder / "runs").write_text("not a folder")
    return ["run", str(c.experiment()), "--no-progress"]


def _output_readonly(c: Ctx) -> list[str]:
    if os.geteuid() == 0:  # root writes into a chmod 555 folder; sysfs refuses even root (EPERM)
        return ["run", str(c.experiment()), "--no-progress", "--set", "output_dir=/sys/plait-read-only"]
    (c.folder / "runs").mkdir()
    (c.folder / "runs").chmod(0o555)
    return ["run", str(c.experiment()), "--no-progress"]


def _cache_file(c: Ctx) -> list[str]:
    (c.folder / "cache").write_text("not a folder")
    os.environ["PLAIT_CACHE"] = str(c.folder / "cache")  # the test restores it
    return ["run", str(c.experiment()), "--no-progress"]


def _model_file(name: str, content: bytes | None = None, truncate: bool = False) -> Callable[[Ctx], list[str]]:
    def setup(c: Ctx) -> list[str]:
        path = c.run / "model" / name
        if truncate:
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        else:
            path.write_bytes(content)
        return ["eval", str(c.run), "--no-progress"]
    return setup


def _run_file(c: Ctx, name: str, text: str, argv: list[str]) -> list[str]:
    (c.run / name).write_text(text)
    return argv


def _corrupt_status(c: Ctx) -> list[str]:
    (c.run / "status.json").write_text('{"state": "finished", "step": ')
    return ["ls", str(c.run.parent)]


def _pickle_checkpoint(c: Ctx) -> list[str]:
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    import torch

    checkpoint = max((c.run / "checkpoints").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    torch.save({"state": Payload()}, checkpoint / "rng_state.pth", pickle_module=pickle)
    status = json.loads((c.run / "status.json").read_text())
    (c.run / "status.json").write_text(json.dumps({**status, "state": "failed", "error": "test"}))
    exp = c.folder / "again.yaml"
    exp.write_text((c.run / "config.yaml").read_text())
    return ["run", str(exp), "--resume", str(c.run), "--no-progress", "--force"]


def _locked(c: Ctx) -> list[str]:
    import subprocess
    import sys

    status = json.loads((c.run / "status.json").read_text())
    (c.run / "status.json").write_text(json.dumps({**status, "state": "preempted"}))
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], "
                               "os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); os.ftruncate(fd, 0); "
                               "os.write(fd, str(os.getpid()).encode()); print('held', flush=True); time.sleep(60)",
                               str(c.run / ".lock")], stdout=subprocess.PIPE, text=True)
    holder.stdout.readline()
    HOLDERS.append(holder)
    exp = c.folder / "again.yaml"
    exp.write_text((c.run / "config.yaml").read_text())
    return ["run", str(exp), "--resume", str(c.run), "--no-progress"]


HOLDERS: list = []
"""Processes a setup started (the test ends them)."""


def _predict(extra: list[str]) -> Callable[[Ctx], list[str]]:
    def setup(c: Ctx) -> list[str]:
        good = c.image()
        (c.folder / "bad.png").write_bytes(b"not a png")
        rows = [{"id": str(i), "image": "bad.png" if i == 0 else good.name, "prompt": "what color?"} for i in range(10)]
        return ["predict", str(c.run), "--data", str(c.manifest("p.jsonl", rows)), "--out",
                str(c.folder / "out.jsonl"), "--no-progress", *extra]
    return setup


def _predict_out_file(c: Ctx) -> list[str]:
    (c.folder / "out").write_text("a file")
    rows = [{"id": "0", "image": c.image().name, "prompt": "what color?"}]
    return ["predict", str(c.run), "--data", str(c.manifest("p.jsonl", rows)), "--out", str(c.folder / "out" / "p.jsonl")]


def _export_under_file(c: Ctx) -> list[str]:
    (c.folder / "exports").write_text("a file")
    return ["export", str(c.run), "--to", str(c.folder / "exports" / "hf")]


CASES: list[Case] = [
    # experiment files and flags
    Case("yaml-duplicate-key", "experiment YAML with `train:` given twice", _yaml_dup, "duplicate key `train`"),
    Case("yaml-not-utf8", "experiment YAML saved as Latin-1", _yaml_latin1, "not UTF-8 text"),
    Case("yaml-missing", "experiment file that does not exist", lambda c: ["validate", str(c.folder / "nope.yaml")],
         "experiment file not found"),
    Case("lr-inf", "`--set train.lr=.inf`", lambda c: ["run", str(c.experiment()), "--set", "train.lr=.inf"],
         "--set train.lr: got inf"),
    Case("lr-word", "`--set train.lr=fast`", lambda c: ["validate", str(c.experiment()), "--set", "train.lr=fast"],
         "--set train.lr: got 'fast'"),
    Case("seed-negative", "`seed: -1`", lambda c: ["run", str(c.experiment(seed=-1))], "seed: got -1"),
    Case("seed-too-big", "`seed: 2**32`", lambda c: ["run", str(c.experiment(seed=2**32))], "seed: got 4294967296"),
    Case("max-steps-huge", "`train.max_steps: 1e23`", lambda c: ["run", str(c.experiment(**{"train.max_steps": 10**23}))],
         "train.max_steps: got"),
    Case("python-raises", "`file.py:function` whose function raises", _python("def make():\n    return 1 / 0\n"),
         "exps.py:make: raised ZeroDivisionError: division by zero (line 2)"),
    Case("python-syntax", "`file.py:function` with a syntax error", _python("def make(:\n    pass\n"),
         "exps.py line 1: not valid Python"),
    Case("python-import", "`file.py:function` importing a missing module", _python("import nosuchmodule\n"),
         "importing it raised ModuleNotFoundError: No module named 'nosuchmodule'"),
    Case("data-missing-validate", "`plait validate` of a manifest that does not exist",
         lambda c: ["validate", str(c.experiment(**{"data.source": {"kind": "manifest", "train": "gone.jsonl"}}))],
         "data.source.train:"),
    # model configs, checked before a run directory exists
    Case("vocab-negative", "language config `vocab_size: -5`",
         lambda c: ["run", str(c.experiment(**{"model.language.config.vocab_size": -5}))],
         "model.language.config.vocab_size: must be > 0, got -5"),
    Case("validate-models", "`plait validate --models` of a negative vocabulary given by `--set`",
         lambda c: ["validate", str(c.experiment()), "--models", "--set", "model.language.config.vocab_size=-5"],
         "--set model.language.config.vocab_size: must be > 0, got -5"),
    Case("heads-not-dividing", "`num_attention_heads: 3` with `hidden_size: 16`",
         lambda c: ["run", str(c.experiment(**{"model.vision.config.num_attention_heads": 3}))],
         "model.vision.config: transformers' clip_vision_model config refuses it: ValueError: The hidden size (16) "
         "is not a multiple of the number of attention heads (3)"),
    Case("heads-not-dividing-seq2seq", "`encoder_attention_heads: 3` with `d_model: 16` (a config class that "
         "does not check it)", lambda c: ["run", str(c.experiment(**{"model": {**MAPPER, "backbone": {"config": {
             **MAPPER["backbone"]["config"], "encoder_attention_heads": 3}}}, "eval.metrics": ["bleu"]}))],
         "model.backbone.config.encoder_attention_heads: 3 heads do not divide d_model 16"),
    Case("backbone-not-seq2seq", "the mapper's backbone a decoder-only LM (`model_type: llama`)",
         lambda c: ["run", str(c.experiment(**{"model": {**MAPPER, "backbone": {"config": {
             "model_type": "llama", "hidden_size": 16, "num_attention_heads": 2}}}, "eval.metrics": ["bleu"]}))],
         "model.backbone.config.model_type: 'llama' has no encoder-decoder with an LM head in transformers"),
    Case("model-type-unknown", "`model_type: llamaz`",
         lambda c: ["run", str(c.experiment(**{"model.language.config.model_type": "llamaz"}))],
         "model.language.config.model_type: 'llamaz' is not a transformers model type"),
    Case("pretrained-offline", "a `pretrained` checkpoint missing from the cache, hub offline",
         lambda c: ["run", str(c.experiment(**{"model.language": {"pretrained": "nobody/no-such-model"},
                                               "model.tokenizer": {"pretrained": "nobody/no-such-model"}}))],
         "model.language.pretrained: 'nobody/no-such-model' is not a local folder and not in the Hugging Face cache"),
    # manifests
    Case("jsonl-not-utf8", "JSONL manifest in Latin-1",
         lambda c: c.manifest_experiment(c.manifest("t.jsonl", text='{"prompt": "gr\xfcn"}\n'.encode("latin-1"))),
         "t.jsonl: not UTF-8 text"),
    Case("csv-not-utf8", "CSV manifest in Latin-1",
         lambda c: c.manifest_experiment(c.manifest("t.csv", text="image,prompt,target\na.png,gr\xfcn,x\n".encode("latin-1"))),
         "t.csv: not UTF-8 text"),
    Case("tsv-not-utf8", "TSV source in Latin-1",
         lambda c: ["run", str(c.experiment(**{"model": MAPPER, "eval.metrics": ["bleu"], "data.source": {
             "kind": "tsv", "train": str(c.manifest("t.tsv", text="signal\toutput\nx.npy\tgr\xfcn\n".encode("latin-1")))}}))],
         "t.tsv: not UTF-8 text"),
    Case("json-not-json", "`.json` manifest that is not JSON",
         lambda c: c.manifest_experiment(c.manifest("t.json", text="[{\"id\": 1},")), "t.json line 1: not valid JSON"),
    Case("jsonl-row-not-object", "JSONL row that is a list, not an object",
         lambda c: c.manifest_experiment(c.manifest("t.jsonl", text='["a.png", "q", "t"]\n')),
         "t.jsonl line 1: a row must be a JSON object"),
    Case("rows-without-target", "4 of 5 JSONL rows lack `target` (skipped and counted, not trained on as \"\")",
         _rows(target=False), "row without target: 4"),
    Case("rows-without-image", "4 of 5 JSONL rows lack `image`", _rows(image=False), "row without image: 4"),
    # media
    Case("npy-1d", "a 1-D `.npy` feature file", _npy(np.zeros(12, dtype=np.float32)), "1-D array (no time axis): 1"),
    Case("npy-nan", "an all-NaN `.npy` feature file", _npy(np.full((8, 6), np.nan, dtype=np.float32)),
         "non-finite values in the npy file: 1"),
    Case("pose-garbage", "a garbage `.pose` file", _garbage_pose, "unreadable pose file"),
    Case("png-bomb", "a PNG claiming 20000 x 20000 pixels (decompression bomb)", _bomb,
         "(decompression bomb): 1"),
    # folders
    Case("output-is-file", "`output_dir` is a file", _output_file, "is a file, not a folder"),
    Case("output-read-only", "`output_dir` is read-only", _output_readonly, "(permission denied)"),
    Case("cache-is-file", "the cache folder (PLAIT_CACHE) is a file", _cache_file,
         "cache folder (PLAIT_CACHE)"),
    Case("predict-out-under-file", "`plait predict --out` inside a file", _predict_out_file, "is a file, not a folder",
         needs_run=True),
    Case("export-under-file", "`plait export --to` inside a file", _export_under_file, "is a file, not a folder",
         needs_run=True),
    # run directories
    Case("status-corrupt", "a torn status.json (`plait ls` of the tree)", _corrupt_status,
         "status.json: not valid JSON (line 1: Expecting value)", code=0, needs_run=True),
    Case("safetensors-truncated", "model.safetensors cut in half (`plait eval`)",
         _model_file("model.safetensors", truncate=True), "the saved model cannot be loaded", needs_run=True),
    Case("tokenizer-garbage", "garbage tokenizer.json (`plait eval`)",
         _model_file("tokenizer.json", b"{not json"), "the saved model cannot be loaded", needs_run=True),
    Case("config-garbage", "garbage plait_model.json (`plait eval`)",
         _model_file("plait_model.json", b"\x00\xff garbage"), "plait_model.json", needs_run=True),
    Case("checkpoint-pickle", "a pickle payload in a checkpoint (`--resume`)", _pickle_checkpoint,
         "holds Python objects besides tensors (posix.system)", needs_run=True),
    Case("run-locked", "`--resume` of a run another live process holds", _locked,
         "another process (pid", needs_run=True),
    Case("predict-bad-rows", "`plait predict`, 1 of 10 rows unreadable, default threshold", _predict([]),
         "1 of 10 rows have unusable media", needs_run=True),
    Case("predict-bad-rows-allowed", "the same with `--max-bad-fraction 0.2`", _predict(["--max-bad-fraction", "0.2"]),
         "skipped 1 rows with unusable media", code=0, needs_run=True),
    Case("run-config-garbage", "a run's config.yaml that is not an experiment (`plait eval`)",
         lambda c: _run_file(c, "config.yaml", "model: [1, 2\n", ["eval", str(c.run)]),
         "config.yaml: not the experiment plait saved", needs_run=True),
    Case("eval-not-a-run", "`plait eval` of a folder that is not a run", lambda c: ["eval", str(c.folder)],
         "not a run directory (no config.yaml)"),
    Case("resume-finished", "`--resume` of a finished run",
         lambda c: ["run", str(c.experiment(name="trained", output_dir=str(c.run.parents[1]))), "--resume",
                    str(c.run)], "already finished; nothing to resume", needs_run=True),
    Case("predict-not-utf8", "`plait predict` manifest in Latin-1",
         lambda c: ["predict", str(c.run), "--data", str(c.manifest("p.csv", text="prompt\ngr\xfcn\n".encode("latin-1"))),
                    "--out", str(c.folder / "o.jsonl")], "p.csv: not UTF-8 text", needs_run=True),
    Case("json-items-not-objects", "`.json` manifest whose items are strings",
         lambda c: c.manifest_experiment(c.manifest("t.json", text='["a.png", "b.png"]')),
         "t.json item 0: a sample must be a JSON object"),
    Case("llava-turns-not-objects", "LLaVA JSON whose turns are strings",
         lambda c: ["run", str(c.experiment(**{"data.source": {"kind": "llava_json", "train": str(
             c.manifest("l.json", text='[{"image": "a.png", "conversations": ["hi", "there"]}]'))}}))],
         "l.json: sample 0 has no `conversations` list of {from, value} objects"),
    Case("init-from-missing", "`init_from` naming a folder that does not exist",
         lambda c: ["validate", str(c.experiment(init_from=str(c.folder / "gone")))], "init_from:"),
    Case("images-missing", "every training image missing (more than data.max_bad_fraction)",
         lambda c: c.manifest_experiment(c.manifest("t.jsonl", [{"id": str(i), "image": f"{i}.png", "prompt": "q",
                                                                 "target": "t"} for i in range(3)])),
         "missing file: 3"),
    Case("set-without-equals", "`--set train.lr` without a value",
         lambda c: ["validate", str(c.experiment()), "--set", "train.lr"], "--set train.lr: expected key.sub=value"),
    # flamingo family
    Case("flamingo-heads", "flamingo `cross_attention.heads: 3` with a 16-wide LM",
         family("validate", changed(FLAMINGO, **{"cross_attention.heads": 3})),
         "model.cross_attention.heads: 3 does not divide the language model's hidden size 16"),
    Case("flamingo-every", "flamingo `cross_attention.every: 5` on a 2-layer LM",
         family("validate", changed(FLAMINGO, **{"cross_attention.every": 5})),
         "model.cross_attention.every: 5 is more than the language model's 2 layers; at most 2"),
    Case("flamingo-latents-0", "flamingo `resampler.latents: 0`",
         family("validate", changed(FLAMINGO, **{"resampler.latents": 0})), "model.resampler.latents: got 0"),
    Case("flamingo-same-tokens", "flamingo `end_of_chunk` equal to `image_token`",
         family("validate", changed(FLAMINGO, end_of_chunk="<image>")),
         "model.end_of_chunk: must differ from image_token"),
    Case("flamingo-empty-token", "flamingo `image_token: ''`", family("validate", changed(FLAMINGO, image_token="")),
         "model.image_token: got ''"),
    Case("flamingo-vision-layer", "flamingo `vision.layer: 5` with a 1-layer encoder",
         family("validate", changed(FLAMINGO, **{"vision.layer": 5})),
         "model.vision.layer: 5 is not a hidden-states index of a 1-layer encoder (valid: -2 to 1"),
    Case("flamingo-vision-unknown", "flamingo vision `model_type: clipz`",
         family("run", changed(FLAMINGO, **{"vision.config.model_type": "clipz"})),
         "model.vision.config.model_type: 'clipz' is not a transformers model type"),
    Case("flamingo-vision-is-lm", "flamingo vision config of a language model (llama)",
         family("run", changed(FLAMINGO, **{"vision.config": LLAMA})),
         "model.vision.config.model_type: 'llama' is not a vision model (LlamaModel reads input_ids, "
         "not pixel_values)"),
    Case("flamingo-lm-bert", "flamingo language `model_type: bert` (attends both ways)",
         family("run", changed(FLAMINGO, **{"language.config": BERT})),
         "model.language.config.model_type: 'bert' is an encoder that attends both ways"),
    Case("flamingo-lm-vision", "flamingo language config of a vision model (clip_vision_model)",
         family("run", changed(FLAMINGO, **{"language.config": {**FLAMINGO["vision"]["config"]}})),
         "model.language.config.model_type: 'clip_vision_model' has no causal LM head in transformers"),
    Case("flamingo-all-frozen", "flamingo with every part frozen",
         family("validate", changed(FLAMINGO, **{"resampler.freeze": True, "cross_attention.freeze": True,
                                                 "language.freeze": True})), "model: every part is frozen"),
    Case("flamingo-stage-part", "a flamingo stage training `projector` (a part it lacks)",
         family("validate", FLAMINGO, stages=[{"name": "a", "trainable": ["projector"]}]),
         "stages[0].trainable: unknown part 'projector'; parts: vision, resampler, cross_attention, language"),
    Case("flamingo-classify", "flamingo `eval.task: classify`",
         family("validate", FLAMINGO, **{"eval.task": "classify"}),
         "eval.task: the flamingo family is evaluated by generate, perplexity, not 'classify'"),
    # git family
    Case("git-not-git", "git language `model_type: llama`",
         family("validate", changed(GIT, **{"language.config.model_type": "llama"})),
         "model.language.config.model_type: the git family builds GitForCausalLM, so model_type must be git"),
    Case("git-vision-unknown", "git replacement encoder `model_type: vitz`",
         family("run", changed(GIT, **{"vision.config": {"model_type": "vitz"}})),
         "model.vision.config.model_type: 'vitz' is not a transformers model type"),
    Case("git-vision-is-lm", "git replacement encoder of a language model (llama)",
         family("run", changed(GIT, **{"vision.config": LLAMA})),
         "model.vision.config.model_type: 'llama' is not a vision model"),
    Case("git-heads", "git `num_attention_heads: 3` with `hidden_size: 16`",
         family("run", changed(GIT, **{"language.config.num_attention_heads": 3})),
         "model.language.config.num_attention_heads: 3 heads do not divide hidden_size 16"),
    Case("git-all-frozen", "git with every part frozen",
         family("validate", changed(GIT, **{"projection.freeze": True, "language.freeze": True})),
         "model: every part is frozen"),
    Case("git-stage-part", "a git stage training `resampler`",
         family("validate", GIT, stages=[{"name": "a", "trainable": ["resampler"]}]),
         "stages[0].trainable: unknown part 'resampler'; parts: vision, projection, language"),
    Case("git-classify", "git `eval.task: classify`", family("validate", GIT, **{"eval.task": "classify"}),
         "eval.task: the git family is evaluated by generate, perplexity, not 'classify'"),
    # adapter family (LaVIN)
    Case("adapter-dropout", "adapter `dropout: 1.5`", family("validate", changed(ADAPTER, **{"adapter.dropout": 1.5})),
         "model.adapter.dropout: got 1.5: a dropout probability must be in [0, 1)"),
    Case("adapter-dropout-schedule", "adapter `dropout: '0.1:0.2'` (a schedule missing VAR)",
         family("validate", changed(ADAPTER, **{"adapter.dropout": "0.1:0.2"})),
         "write a schedule as PROB:LIMIT:VAR, e.g. 0.1:0.2:1.01"),
    Case("adapter-every", "adapter `vision.every: 10` with a 4-layer encoder",
         family("validate", changed(ADAPTER, **{"vision.every": 10})),
         "model.vision.every: 10 is more than the encoder's 4 layers (no visual tokens); at most 4"),
    Case("adapter-groups", "adapter `groups: 3` (divides neither dim 8 nor width 32)",
         family("validate", changed(ADAPTER, **{"adapter.groups": 3})),
         "model.adapter.groups: 3 must divide adapter.dim (8) and the language model's width (32)"),
    Case("adapter-lm-bert", "adapter language `model_type: bert`",
         family("run", changed(ADAPTER, **{"language.config": BERT})),
         "model.language.config.model_type: 'bert' is an encoder that attends both ways"),
    Case("adapter-lm-gpt2", "adapter language GPT-2 (a causal LM, not Llama-like)",
         family("run", changed(ADAPTER, **{"language.config": GPT2})),
         "model.language: GPT2LMHeadModel has no Llama-like decoder layers"),
    Case("adapter-vision-unknown", "adapter vision `model_type: clipz`",
         family("run", changed(ADAPTER, **{"vision.config.model_type": "clipz"})),
         "model.vision.config.model_type: 'clipz' is not a transformers model type"),
    Case("adapter-stages", "stages for the adapter family",
         family("validate", ADAPTER, stages=[{"name": "a", "trainable": ["adapter"]}]),
         "stages: the adapter family trains in one stage"),
    Case("adapter-classify", "adapter `eval.task: classify`", family("validate", ADAPTER, **{"eval.task": "classify"}),
         "eval.task: the adapter family is evaluated by generate, multiple_choice, perplexity, not 'classify'"),
    # text family
    Case("text-classify-perplexity", "text `task: classification` with `eval.task: perplexity`",
         text("validate", changed(TEXT, task="classification")),
         "eval.task: a classification text model is evaluated by classify, not perplexity"),
    Case("text-no-model-type", "text `config` without `model_type`",
         text("validate", changed(TEXT, **{"config.model_type": None})),
         "model: `config` needs a `model_type` key, e.g. model_type: bert"),
    Case("text-mlm-gpt2", "text `task: masked_lm` on GPT-2 (no MLM head)", text("run", changed(TEXT, config=GPT2)),
         "model.config.model_type: 'gpt2' has no masked LM head in transformers (e.g. bert, roberta, distilbert)"),
    Case("text-max-length", "text `max_length: 128` with `max_position_embeddings: 64`",
         text("validate", changed(TEXT, max_length=128)),
         "model.max_length: 128 tokens exceed config.max_position_embeddings 64; lower max_length to at most 64"),
    Case("text-model-type-unknown", "text `model_type: bertz`",
         text("run", changed(TEXT, **{"config.model_type": "bertz"})),
         "model.config.model_type: 'bertz' is not a transformers model type (similar: albert, bert"),
    Case("text-heads", "text `num_attention_heads: 3` with `hidden_size: 16`",
         text("run", changed(TEXT, **{"config.num_attention_heads": 3})),
         "model.config.num_attention_heads: 3 heads do not divide hidden_size 16"),
    Case("text-vocab-negative", "text `vocab_size: -3`", text("run", changed(TEXT, **{"config.vocab_size": -3})),
         "model.config.vocab_size: must be > 0, got -3"),
    Case("text-pretrained-offline", "text `pretrained` checkpoint missing from the cache, hub offline",
         text("run", changed(TEXT, config=None, tokenizer={}, pretrained="nobody/no-such-model")),
         "model.pretrained: 'nobody/no-such-model' is not a local folder and not in the Hugging Face cache"),
    # text sources (BabyLM's corpora), the built-in text and GLUE data
    Case("text-file-missing", "`kind: text` training file that does not exist (`plait validate`)",
         text_files("validate", None), "data.source.train[0]:"),
    Case("text-file-empty", "`kind: text` training file that is empty", text_files("run", b""),
         "data.source: the training split is empty"),
    Case("text-file-blank", "`kind: text` training file of blank lines", text_files("run", b"\n\n  \n"),
         "data.source: the training split is empty"),
    Case("text-file-latin1", "`kind: text` file in Latin-1", text_files("run", "gr\xfcn und blau\n".encode("latin-1")),
         "corpus.train: not utf-8 text (invalid start byte at byte 2); set data.source.encoding"),
    Case("text-encoding-unknown", "`kind: text` `encoding: utf-9`", text_files("validate", b"a b\n", encoding="utf-9"),
         "data.source.encoding: got 'utf-9': 'utf-9' is not a text encoding Python knows"),
    Case("builtin-text-block-0", "`builtin_text` `block_size: 0`",
         text("validate", **{"data.source": {**TEXT_DATA, "block_size": 0}}),
         "data.source.block_size: got 0"),
    Case("builtin-glue-task", "`builtin_glue` `task: colaa`",
         text("validate", changed(TEXT, task="classification"), **{
             "data.source": {"kind": "builtin_glue", "task": "colaa"},
         "eval": {"task": "classify", "splits": ["validation"]}}),
         "data.source.task: got 'colaa': Input should be 'cola', 'sst2'"),
    Case("cc3m-latin1", "CC-3M caption TSV in Latin-1",
         cc3m("run", "gr\xfcn\thttp://a\n".encode("latin-1"), b"a.png\t.\timage/png\t1\t200\thttp://a\n"),
         "captions.tsv: not UTF-8 text (invalid start byte, after 0 rows)"),
    # ScienceQA folders
    Case("scienceqa-root-missing", "ScienceQA `root` that does not exist",
         lambda c: ["validate", str(c.experiment(**{"data.source": {"kind": "scienceqa",
                                                                     "root": str(c.folder / "nope")}}))],
         "data.source.root:"),
    Case("scienceqa-torn", "a torn problems.json", scienceqa("run", problems='{"0": {"question": '),
         "problems.json: not valid JSON (Expecting value at line 1)"),
    Case("scienceqa-problems-list", "problems.json holding a list", scienceqa("run", problems="[1, 2]"),
         "problems.json: expected a JSON object mapping problem ids to problems, got a list"),
    Case("scienceqa-split-not-list", "pid_splits.json whose `train` is a number",
         scienceqa("run", pid_splits='{"train": 5, "val": [], "test": []}'),
         "pid_splits.json: `train` (data.source.train) must be a list of problem ids, got 5"),
    Case("scienceqa-split-missing", "`train: minitrain`, a list pid_splits.json lacks",
         scienceqa("run", train="minitrain"),
         "data.source.train: 'minitrain' is not a list in"),
    Case("scienceqa-unknown-ids", "every id of the split lists unknown to problems.json (skipped and counted)",
         scienceqa("run", pid_splits=json.dumps({"train": ["x1", "x2"], "val": ["x3"], "test": ["x4"]})),
         "2 of 2 samples unusable (problem not in problems.json: 2; first: sample x1)"),
    Case("scienceqa-problem-not-object", "problems that are strings (skipped and counted)",
         scienceqa("run", problems=json.dumps({str(i): "x" for i in range(8)})),
         "6 of 6 samples unusable (problem is not an object: 6; first: sample 0)"),
    Case("scienceqa-format", "`prompt_format: QXM-A`", scienceqa("validate", prompt_format="QXM-A"),
         "data.source.prompt_format: got 'QXM-A': 'QXM-A' is not INPUT-OUTPUT"),
    # data.mix
    Case("mix-eval-source", "`data.mix.eval_source` naming no source", mix("validate", eval_source="nope"),
         "data.mix.eval_source: 'nope' is not a source name (images, text)"),
    Case("mix-weight-negative", "a mix source of `weight: -1`",
         mix_of({"name": "a", "source": SHAPES, "weight": -1}, {"name": "b", "source": SHAPES}),
         "data.mix.sources[0].weight: got -1: Input should be greater than 0"),
    Case("mix-weight-zero", "a mix source of `weight: 0` (all-zero weights get one such line each)",
         mix_of({"name": "a", "source": SHAPES, "weight": 0}, {"name": "b", "source": SHAPES}),
         "data.mix.sources[0].weight: got 0"),
    Case("mix-one-source", "a mix of one source", mix_of({"name": "a", "source": SHAPES}),
         "data.mix.sources: List should have at least 2 items"),
    Case("mix-empty-source", "a mix source that yields no samples (an empty text file)",
         mix("run", second=lambda c: {"kind": "text", "train": [str(c.manifest("empty.train", text=""))]}),
         "data.mix.sources[1].source: the training split is empty"),
    Case("mix-and-source", "both `data.source` and `data.mix`",
         lambda c: ["validate", str(c.experiment(**{"data.mix": {"sources": [{"name": "a", "source": SHAPES},
                                                                          {"name": "b", "source": SHAPES}]}}))],
         "data.source: give the sources under data.mix.sources, not both"),
    # train.sparsity
    Case("sparsity-target-1", "`train.sparsity.target: 1.0`",
         family_with("validate", {"train.sparsity": {"target": 1.0}}),
         "train.sparsity.target: got 1.0: Input should be less than 1"),
    Case("sparsity-include-nothing", "`train.sparsity.include` matching no weight",
         family_with("run", {"train.sparsity": {"target": 0.5, "include": ["nothing.*"]}}),
         "train.sparsity.include: ['nothing.*'] (exclude []) matches no trainable weight matrix"),
    Case("sparsity-frozen-only", "`train.sparsity.include` matching only the frozen encoder",
         family_with("run", {"train.sparsity": {"target": 0.5, "include": ["vision.*"]}}),
         "e.g. ['projector.net.0.weight'"),
    Case("sparsity-rigl-update-0", "RigL `update_every: 0`",
         family_with("validate", {"train.sparsity": {"target": 0.5, "method": "rigl", "update_every": 0}}),
         "train.sparsity.update_every: got 0"),
    Case("sparsity-stop-at", "RigL `stop_at: 1.5`",
         family_with("validate", {"train.sparsity": {"target": 0.5, "method": "rigl", "stop_at": 1.5}}),
         "train.sparsity.stop_at: got 1.5: Input should be less than or equal to 1"),
    # train.distill
    Case("distill-teacher-missing", "`train.distill.teacher` folder that does not exist (`plait validate`)",
         lambda c: family_with("validate", {"train.distill": {"teacher": str(c.folder / "gone")}})(c),
         "train.distill.teacher:"),
    Case("distill-teacher-missing-run", "the same, `plait run`", teacher_at("gone"),
         "does not exist; give a plait run directory"),
    Case("distill-teacher-offline", "a hub teacher not in the cache, hub offline",
         family_with("run", {"train.distill": {"teacher": "nobody/no-such-model"}}),
         "train.distill.teacher: 'nobody/no-such-model' is not a local folder and not in the Hugging Face cache"),
    Case("distill-teacher-empty", "a teacher folder that holds no model", teacher_at("t", make_folder=True),
         "is not a plait run or saved model (no model/plait_model.json)"),
    Case("distill-kd-factor", "`kd_factor: 2`",
         family_with("validate", {"train.distill": {"teacher": "x", "kd_factor": 2}}),
         "train.distill.kd_factor: got 2: must be in [0, 1]"),
    Case("distill-temperature", "`temperature: 0`",
         family_with("validate", {"train.distill": {"teacher": "x", "temperature": 0}}),
         "train.distill.temperature: got 0: must be > 0"),
    Case("distill-tokenizer", "a teacher with another tokenizer (trained on other texts)",
         with_teacher("run", **{"data.source.train_size": 40}), "tokenizer differs from the student's in",
         needs_run=True),
    Case("distill-family", "a projector teacher for a flamingo student", with_teacher("run", FLAMINGO),
         "holds a projector model (ProjectorVLM), the student is a FlamingoVLM", needs_run=True),
    Case("distill-text-student", "a projector teacher for a text student", text_with_teacher,
         "holds a projector model (ProjectorVLM), the student is a BertForMaskedLM", needs_run=True),
    # plait glue
    Case("glue-from-missing", "`plait glue --from` a folder that does not exist",
         glue_from(lambda c: str(c.folder / "gone")), "does not exist; give a finished text run directory"),
    Case("glue-from-offline", "`plait glue --from` a hub name not in the cache, hub offline",
         glue_from(lambda c: "nobody/no-such-model"), "--from: 'nobody/no-such-model' is not a local folder"),
    Case("glue-from-projector", "`plait glue --from` a run that is not a text model", glue_from(lambda c: str(c.run)),
         "the run holds a projector model; GLUE fine-tunes text models", needs_run=True),
    Case("glue-from-killed", "`plait glue --from` a run killed mid-way (no saved model)", killed_run,
         "the run has no saved model (model/plait_model.json); let it finish first", needs_run=True),
    Case("glue-task-unknown", "a GLUE suite task `colaa`", glue_from(lambda c: "x", tasks={"colaa": {}}),
         "tasks.colaa.[key]: Input should be 'cola', 'mnli'"),
    Case("glue-reserved-key", "a GLUE suite `experiment` setting `data`",
         glue_from(lambda c: "x", experiment={"data": {}}),
         "experiment: data: set per task and pretrained model by plait glue; leave them out"),
    Case("glue-suite-missing", "a GLUE suite file that does not exist",
         lambda c: ["glue", str(c.folder / "none.yaml"), "--from", "x"], "none.yaml: suite file not found"),
    Case("glue-workers-0", "`plait glue --workers 0`",
         lambda c: ["glue", str(glue_suite(c)), "--from", str(c.folder), "--workers", "0"],
         "--workers: must be at least 1, got 0"),
    # training that diverges (a failed run: its directory records why)
    Case("lr-diverges", "`--set train.lr=1e30` (diverges)",
         lambda c: ["run", str(c.experiment()), "--set", "train.lr=1e30", "--no-progress"],
         "run failed: non-finite", code=1,
         leaves="a failed run directory: status failed, `nonfinite` step and samples"),
]


def markdown() -> str:
    """tests/BAD_INPUTS.md: the table as documentation."""
    lines = ["# Bad inputs", "",
             "Generated from `tests/bad_inputs.py` (`python -m tests.bad_inputs > tests/BAD_INPUTS.md`); every row",
             "is run by `tests/integration/test_bad_inputs.py`, which also checks that stderr has no traceback",
             "and that no run directory is left behind unless the row says so.", "",
             "| case | input | the line shows | exit | leaves |", "|---|---|---|---|---|"]
    for case in CASES:
        expect = case.expect.replace("|", "\\|")
        lines.append(f"| {case.id} | {case.input} | `{expect}` | {case.code} | {case.leaves} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
