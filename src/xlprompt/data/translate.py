"""Machine translation of English texts with any Hugging Face seq2seq translation model.

Used by the ``translate`` source of :func:`xlprompt.data.parallel.build_parallel_corpus`. The model
family is recognised from its tokenizer, which decides how the target language is chosen:

=============  ======================================  ==========================================
scheme         recognised by                           target language
=============  ======================================  ==========================================
``nllb``       token ``eng_Latn`` (NLLB-200)           ``forced_bos_token_id`` of ``deu_Latn``...
``m2m100``     ``get_lang_id`` / token ``__en__``      ``forced_bos_token_id`` of ``__de__``...
``mbart50``    token ``en_XX`` (mBART-50 many-to-many)  ``forced_bos_token_id`` of ``de_DE``...
``marian``     tokens ``>>deu<<``/``>>de<<`` (OPUS-MT)  the token is put before the source text
``single``     none of these                           one fixed direction (e.g. opus-mt-en-de)
=============  ======================================  ==========================================

torch and transformers are imported only when a model is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from xlprompt.errors import ConfigError, ModelError
from xlprompt.languages import XNLI_LANGUAGES

__all__ = ["Translator", "HFTranslator", "NLLB_CODES", "MBART50_CODES", "MARIAN_TOKENS"]

#: FLORES-200 codes used by NLLB.
NLLB_CODES: dict[str, str] = {
    "ar": "arb_Arab",
    "bg": "bul_Cyrl",
    "de": "deu_Latn",
    "el": "ell_Grek",
    "en": "eng_Latn",
    "es": "spa_Latn",
    "fr": "fra_Latn",
    "hi": "hin_Deva",
    "ru": "rus_Cyrl",
    "sw": "swh_Latn",
    "th": "tha_Thai",
    "tr": "tur_Latn",
    "ur": "urd_Arab",
    "vi": "vie_Latn",
    "zh": "zho_Hans",
}
#: mBART-50 codes (it has no Bulgarian or Greek).
MBART50_CODES: dict[str, str] = {
    "ar": "ar_AR",
    "de": "de_DE",
    "en": "en_XX",
    "es": "es_XX",
    "fr": "fr_XX",
    "hi": "hi_IN",
    "ru": "ru_RU",
    "sw": "sw_KE",
    "th": "th_TH",
    "tr": "tr_TR",
    "ur": "ur_PK",
    "vi": "vi_VN",
    "zh": "zh_CN",
}
#: Target-language tokens of multi-target OPUS-MT (Marian) models, in order of preference.
MARIAN_TOKENS: dict[str, tuple[str, ...]] = {
    "ar": (">>ara<<", ">>arb<<", ">>ar<<"),
    "bg": (">>bul<<", ">>bg<<"),
    "de": (">>deu<<", ">>de<<"),
    "el": (">>ell<<", ">>el<<"),
    "es": (">>spa<<", ">>es<<"),
    "fr": (">>fra<<", ">>fr<<"),
    "hi": (">>hin<<", ">>hi<<"),
    "ru": (">>rus<<", ">>ru<<"),
    "sw": (">>swa<<", ">>swh<<", ">>sw<<"),
    "th": (">>tha<<", ">>th<<"),
    "tr": (">>tur<<", ">>tr<<"),
    "ur": (">>urd<<", ">>ur<<"),
    "vi": (">>vie<<", ">>vi<<"),
    "zh": (">>cmn_Hans<<", ">>zho_Hans<<", ">>zho<<", ">>cmn<<", ">>zh<<"),
}


class Translator(Protocol):
    """Anything that translates English texts into an XNLI language."""

    def translate(self, texts: Sequence[str], tgt_lang: str, progress: Callable[[int], Any] | None = None) -> list[str]:
        """Translate ``texts`` into ``tgt_lang``; call ``progress(n)`` after every ``n`` texts."""
        ...


class HFTranslator:
    """A Hugging Face seq2seq translation model (NLLB, M2M100, mBART-50, MarianMT...) with its tokenizer.

    ``model`` is a hub name or a local folder. ``device`` defaults to CUDA when available. Texts are
    translated in batches of ``batch_size`` (longest first, to waste little padding) with beam
    search of width ``num_beams``; inputs are truncated to, and outputs limited to, ``max_length``
    tokens. Raises :class:`ModelError` when the model cannot be loaded or is not a seq2seq model.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        device: str | None = None,
        batch_size: int = 16,
        num_beams: int = 4,
        max_length: int = 256,
    ):
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        for name, value in (("batch_size", batch_size), ("num_beams", num_beams), ("max_length", max_length)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        self.name = str(model)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.name)
            self.model = AutoModelForSeq2SeqLM.from_pretrained(self.name)
        except Exception as err:  # noqa: BLE001 - every load failure has the same fix
            reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
            raise ModelError(
                f"could not load translation model '{self.name}' ({type(err).__name__}: {reason}). "
                "Pass --model with a local folder or hub name of a seq2seq translation model "
                "(NLLB, M2M100, mBART-50, MarianMT); offline machines need a local folder"
            ) from None
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()
        self.batch_size, self.num_beams, self.max_length = batch_size, num_beams, max_length
        self.scheme = self._detect_scheme()

    # -- language codes -------------------------------------------------------------------------

    def _token_id(self, token: str) -> int | None:
        """The id of ``token`` if the tokenizer knows it as one token, else ``None``."""
        try:
            ids = self.tokenizer.convert_tokens_to_ids([token])
        except (KeyError, ValueError, TypeError):
            return None
        token_id = ids[0] if ids else None
        if token_id is None or token_id == self.tokenizer.unk_token_id:
            return None
        return int(token_id)

    def _detect_scheme(self) -> str:
        if self._token_id(NLLB_CODES["en"]) is not None:
            return "nllb"
        if hasattr(self.tokenizer, "get_lang_id") or self._token_id("__en__") is not None:
            return "m2m100"
        if self._token_id(MBART50_CODES["en"]) is not None:
            return "mbart50"
        if any(self._token_id(t) is not None for tokens in MARIAN_TOKENS.values() for t in tokens):
            return "marian"
        return "single"

    def _target_code(self, lang: str) -> tuple[str, int] | None:
        """(token, id) that selects ``lang`` as target, or ``None`` if the model lacks it."""
        candidates: tuple[str, ...]
        if self.scheme == "nllb":
            candidates = (NLLB_CODES[lang],)
        elif self.scheme == "m2m100":
            if hasattr(self.tokenizer, "get_lang_id"):
                try:
                    return f"__{lang}__", int(self.tokenizer.get_lang_id(lang))
                except (KeyError, ValueError):
                    return None
            candidates = (f"__{lang}__",)
        elif self.scheme == "mbart50":
            candidates = (MBART50_CODES[lang],) if lang in MBART50_CODES else ()
        elif self.scheme == "marian":
            candidates = MARIAN_TOKENS.get(lang, ())
        else:
            return None
        for token in candidates:
            token_id = self._token_id(token)
            if token_id is not None:
                return token, token_id
        return None

    def supported_languages(self) -> tuple[str, ...]:
        """The XNLI languages this model can translate into (empty for a one-direction model)."""
        return tuple(lang for lang in XNLI_LANGUAGES if lang != "en" and self._target_code(lang))

    def check_languages(self, languages: Sequence[str]) -> None:
        """Raise :class:`ConfigError` unless the model can translate into every one of ``languages``."""
        if self.scheme == "single":
            if len(languages) != 1:
                raise ConfigError(
                    f"model '{self.name}' has no target-language codes (a one-direction model such as "
                    f"opus-mt-en-de), so it cannot translate into {len(languages)} languages; pass "
                    "--languages with the one language it translates into, or use NLLB/M2M100"
                )
            return
        missing = [lang for lang in languages if self._target_code(lang) is None]
        if missing:
            raise ConfigError(
                f"translation model '{self.name}' ({self.scheme}) cannot translate into "
                f"{', '.join(missing)}; drop them from --languages (it supports: "
                f"{', '.join(self.supported_languages()) or 'none'})"
            )

    def generation_inputs(self, texts: Sequence[str], tgt_lang: str) -> tuple[list[str], dict[str, Any]]:
        """The source texts as fed to the tokenizer and the extra ``generate`` arguments for ``tgt_lang``."""
        self.check_languages([tgt_lang])
        if self.scheme == "single":
            return list(texts), {}
        token, token_id = self._target_code(tgt_lang)  # type: ignore[misc]  # checked above
        if self.scheme == "marian":
            return [f"{token} {text}" for text in texts], {}
        return list(texts), {"forced_bos_token_id": token_id}

    def _set_source_language(self) -> None:
        source = {"nllb": NLLB_CODES["en"], "m2m100": "en", "mbart50": MBART50_CODES["en"]}.get(self.scheme)
        if source is not None and hasattr(self.tokenizer, "src_lang"):
            self.tokenizer.src_lang = source

    # -- translation ----------------------------------------------------------------------------

    def translate(self, texts: Sequence[str], tgt_lang: str, progress: Callable[[int], Any] | None = None) -> list[str]:
        """Translate English ``texts`` into ``tgt_lang``; the outputs are in the order of ``texts``.

        Raises :class:`ModelError` if the model returns an empty translation for a non-empty text
        (it would make an unusable parallel pair).
        """
        import torch

        inputs, extra = self.generation_inputs(texts, tgt_lang)
        self._set_source_language()
        order = sorted(range(len(inputs)), key=lambda i: -len(inputs[i]))
        outputs: list[str] = [""] * len(inputs)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            encoded = self.tokenizer(
                [inputs[i] for i in batch],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.max_length,
            ).to(self.device)
            with torch.inference_mode():
                generated = self.model.generate(
                    **encoded, num_beams=self.num_beams, max_new_tokens=self.max_length, **extra
                )
            forced = extra.get("forced_bos_token_id")
            if forced is not None and self.tokenizer.pad_token_id is not None:
                # Some tokenizers (M2M100 saved by transformers 5) do not mark language codes as
                # special, so skip_special_tokens would keep "__de__" in the text: blank it out.
                generated = generated.masked_fill(generated == forced, self.tokenizer.pad_token_id)
            decoded = self.tokenizer.batch_decode(generated, skip_special_tokens=True)
            for i, text in zip(batch, decoded):
                text = text.strip()
                if not text and texts[i].strip():
                    raise ModelError(
                        f"translation model '{self.name}' returned an empty {tgt_lang} translation for "
                        f"{texts[i][:80]!r}; check that it is an en->{tgt_lang} translation model"
                    )
                outputs[i] = text
            if progress is not None:
                progress(len(batch))
        return outputs
