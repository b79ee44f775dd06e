"""Config of the data section: where samples come from and how bad data is handled."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from plait.core.strict import Strict
from plait.core.fields import FilePath, FolderName
from plait.data.builtin.captions import BuiltinCaptionsSource
from plait.data.sources.cc3m import Cc3mSource
from plait.data.sources.localized_narratives import LocalizedNarrativesSource
from plait.data.sources.scienceqa import ScienceQASource
from plait.data.text_config import BuiltinGlueSource, BuiltinTextSource, HfSource, TextSource


class BuiltinSource(Strict):
    """A synthetic dataset generated offline and deterministically on first use."""

    kind: Literal["builtin"] = "builtin"
    """Source kind (the discriminator)."""
    name: Literal["shapes"] = "shapes"
    """shapes: coloured shapes of several sizes and positions, with captions and questions."""
    task: Literal["qa", "caption"] = "qa"
    """qa: short question/answer pairs about one attribute; caption: a full description."""
    train_size: int = Field(2000, ge=1)
    """Number of training images."""
    validation_size: int = Field(100, ge=0)
    """Number of validation images."""
    test_size: int = Field(200, ge=0)
    """Number of held-out test images."""
    image_size: int = Field(32, ge=8, le=512)
    """Side of the square images in pixels."""
    seed: int = 1234
    """Seed of the generator (independent of the experiment seed, so data stay fixed)."""


class ManifestSource(Strict):
    """JSONL or CSV manifests, one row per sample, with an image path relative to the manifest."""

    kind: Literal["manifest"] = "manifest"
    """Source kind (the discriminator)."""
    train: FilePath
    """Training manifest (.jsonl or .csv)."""
    validation: FilePath | None = None
    """Validation manifest."""
    test: FilePath | None = None
    """Test manifest."""
    id_field: str = "id"
    """Column with a sample id (row number when absent)."""
    image_field: str = "image"
    """Column with the image path."""
    prompt_field: str = "prompt"
    """Column with the prompt text."""
    target_field: str = "target"
    """Column with the target text."""

    def media_hint(self) -> str:
        """Where a missing file's path is read from (shown when files are missing)."""
        return "image paths in data.source.image_field are read relative to the manifest's folder"


class LlavaJsonSource(Strict):
    """LLaVA conversation JSON: [{"image": ..., "conversations": [{"from": "human", ...}, {"from": "gpt", ...}]}]."""

    kind: Literal["llava_json"] = "llava_json"
    """Source kind (the discriminator)."""
    train: FilePath
    """Training JSON file."""
    validation: FilePath | None = None
    """Validation JSON file."""
    test: FilePath | None = None
    """Test JSON file."""
    image_root: FilePath | None = None
    """Folder image paths are relative to (default: the JSON file's folder)."""

    def media_hint(self) -> str:
        """Where a missing file's path is read from (shown when files are missing)."""
        root = self.image_root or "the JSON file's folder"
        return f"image paths are read relative to data.source.image_root ({root}); set it to the images' folder"


class TsvSource(Strict):
    """MultimodalHugs metadata TSVs as they are: signal, signal_start, signal_end, encoder_prompt, decoder_prompt, output."""

    kind: Literal["tsv"] = "tsv"
    """Source kind (the discriminator)."""
    train: FilePath
    """Training TSV; signal paths in it are absolute or relative to the TSV."""
    validation: FilePath | None = None
    """Validation TSV."""
    test: FilePath | None = None
    """Test TSV."""

    def media_hint(self) -> str:
        """Where a missing file's path is read from (shown when files are missing)."""
        return "signal paths are absolute or relative to the TSV's folder"


class SignsSource(Strict):
    """Synthetic sign-language-like data: each word is a keypoint motion pattern; written as .npy + MultimodalHugs TSVs."""

    kind: Literal["signs"] = "signs"
    """Source kind (the discriminator)."""
    train_size: int = Field(2000, ge=1)
    """Number of training sentences."""
    validation_size: int = Field(100, ge=0)
    """Number of validation sentences."""
    test_size: int = Field(200, ge=0)
    """Number of held-out test sentences."""
    vocab_size: int = Field(16, ge=2, le=24)
    """Words in the vocabulary (each a distinct motion pattern)."""
    min_words: int = Field(2, ge=1)
    """Fewest words in a sentence."""
    max_words: int = Field(5, ge=1, le=12)
    """Most words in a sentence."""
    noise: float = Field(0.05, ge=0.0, le=1.0)
    """Standard deviation of the noise added to every keypoint coordinate."""
    seed: int = 1234
    """Seed of the generator (independent of the experiment seed, so data stay fixed)."""

    @model_validator(mode="after")
    def _lengths(self) -> "SignsSource":
        if self.min_words > self.max_words:
            raise ValueError(f"min_words ({self.min_words}) must not exceed max_words ({self.max_words})")
        return self


Source = Annotated[Union[BuiltinSource, ManifestSource, LlavaJsonSource, TsvSource, SignsSource,
                         ScienceQASource, TextSource, HfSource, BuiltinTextSource, BuiltinGlueSource, Cc3mSource,
                         LocalizedNarrativesSource, BuiltinCaptionsSource],
                   Field(discriminator="kind")]


class NormalizeTargets(Strict):
    """Cleaning of training targets only; validation and test keep their references as written."""

    lowercase: bool = True
    """Lowercase the target."""
    punctuation: bool = True
    """Remove punctuation (apostrophes join their word: don't -> dont; other marks become spaces)."""
    stopwords: bool = True
    """Remove English stopwords (scikit-learn's list); a target made only of stopwords keeps them."""
    keep: list[str] = []
    """Words never removed as stopwords, e.g. [no, not] for yes/no answers."""


class MixSource(Strict):
    """One named source of a mix."""

    name: FolderName
    """Name in logs and reports (the training log gets `loss_<name>` in paired mode)."""
    source: Source | list[Source]
    """The dataset (any source kind; a text-only one yields samples without media), or several concatenated into
    one (BabyLM's captions are CC-3M + Localized Narratives)."""
    weight: float = Field(1.0, gt=0)
    """paired: this source's loss weight; ratio: its share of the samples drawn (weights are normalised)."""


class MixConfig(Strict):
    """Several sources trained together: BabyLM's paired form (one batch of each per step, loss = sum of
    weight * that batch's loss) or sampling by ratio (each sample drawn from a source with probability ~ weight)."""

    mode: Literal["paired", "ratio"] = "paired"
    """paired: every step has one batch of each source (an epoch = the longest source, shorter ones cycle);
    ratio: one batch of samples drawn by weight (an epoch = as many draws as all sources have samples)."""
    sources: list[MixSource] = Field(min_length=2)
    """The sources, e.g. [{name: captions, weight: 1}, {name: text, weight: 0.25}] for BabyLM's 1vd25."""
    eval_source: str | None = None
    """Source whose validation/test samples are evaluated by generation (default: the first); every source's
    held-out samples also get `loss_<name>` and `perplexity_<name>`."""

    @model_validator(mode="after")
    def _names(self) -> "MixConfig":
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError(f"sources: names must differ, got {names}")
        if self.eval_source is not None and self.eval_source not in names:
            raise ValueError(f"eval_source: {self.eval_source!r} is not a source name ({', '.join(names)})")
        return self

    @property
    def evaluated(self) -> str:
        """The name of the source evaluated by generation."""
        return self.eval_source or self.sources[0].name


class DataConfig(Strict):
    """Where samples come from and how bad data is handled."""

    source: Source = BuiltinSource()
    """The dataset."""
    max_bad_fraction: float = Field(0.05, ge=0.0, le=1.0)
    """Largest share of unreadable samples per split that is skipped and reported; above it the run stops."""
    max_samples: int | None = Field(None, ge=1)
    """Use at most this many samples per split (None = all)."""
    validation_from_train: float = Field(0.0, ge=0.0, lt=1.0)
    """Share of the training set held out for validation when the source has no validation split."""
    normalize_targets: NormalizeTargets | None = None
    """Clean the training targets (lowercase, punctuation, stopwords) before tokenizing; None = use them as written."""
    mix: MixConfig | None = None
    """Train on several named sources at once (instead of `source`); see MixConfig."""

    def source_metrics(self) -> list[str]:
        """What a mix adds to every evaluation: loss_<name> and perplexity_<name> per source."""
        names = [s.name for s in self.mix.sources] if self.mix is not None else []
        return [f"{kind}_{name}" for name in names for kind in ("loss", "perplexity")]

    @model_validator(mode="after")
    def _one_kind_of_source(self) -> "DataConfig":
        # compared with the default, not by fields set: a saved config.yaml writes the default source out
        if self.mix is not None and self.source != BuiltinSource():
            raise ValueError("source: give the sources under data.mix.sources, not both data.source and data.mix")
        return self

    def missing_files(self) -> list[str]:
        """One line per file or folder the source names that does not exist: its full dotted key and path."""
        lines = [f"data.source.{name}: {value} does not exist"
                 for name, value in self.source if isinstance(value, Path) and not value.exists()]
        return lines + (self.source.missing_files() if isinstance(self.source, TextSource) else [])
