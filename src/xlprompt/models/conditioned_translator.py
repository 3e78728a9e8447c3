"""MPT with a prompt per target language (``translator_conditioning=language``).

The paper's translator (Eq. 4) maps ``p_S`` to one ``p_T`` that serves all 14 target languages. Conditioned on
the language, it gives ``p_T^l = Transl(p_S + e_l)``: a learned vector ``e_l`` ∈ R^d per target language is added
to every one of the m source-prompt vectors before the *shared* translator (any of the Fig. 4 architectures).

Why a language embedding rather than low-rank per-language deltas of the translator's weights:

* it costs d parameters per language (14 × 768 ≈ 10.8k for XLM-R base, against 2·r·(d + 2d) per language for
  rank-r deltas of Eq. 4's two matrices), which matters with 500 pairs split over up to 14 languages (PAWS-X
  holds only 4 of them: ~125 pairs each);
* everything the languages share (the translator) is still trained by every pair, so a language's prompt
  differs from the others only as far as its own pairs ask for;
* it works unchanged for every translator architecture (linear, LSTM, Transformer);
* with ``e_l = 0`` it *is* the paper's translator: the vectors are zero-initialised, so at step 0 all 14
  prompts equal the paper's ``p_T``, and the paper's setting is the special case of no language signal.

Each parallel pair is aligned with its own language's ``p_T^l`` (the target side of an en-de pair gets
``p_T^de``). A test language with no pair in the training corpus (e.g. 10 of the 14 with PAWS-X) has an untrained
``e_l``; it uses the **mean of the vectors of the languages that had pairs** (the ``seen`` buffer, saved with
the module), i.e. the centre of the learned language offsets; when no language had pairs that is ``e = 0``, the
paper's ``p_T``. The task's source language (only with ``source_prompt=target``) uses the same fallback.

Any task: one vector per target language of the task (XNLI's 14, SIB-200's 204, AmericasNLI's 10). With many
languages and few pairs most languages have none (SIB-200 with Tatoeba: 82 of 204 have pairs); they all get
the fallback above, and the run's notes say how many had alignment data.
"""

from __future__ import annotations

import torch
from torch import nn

from xlprompt.errors import ConfigError
from xlprompt.models.translator import build_translator

CONDITIONING_MODES: tuple[str, ...] = ("none", "language")


class LanguageConditionedTranslator(nn.Module):
    """``p_T^l = base(p_S + e_l)`` for each of ``languages`` (the task's target languages); ``e_l``
    zero-initialised.

    Args:
        base (nn.Module): the shared translator (Eq. 4 or a Fig. 4 architecture).
        d (int): the hidden size.
        languages (tuple[str, ...]): the task's target languages, one vector each (in this order).
    """

    def __init__(self, base: nn.Module, d: int, languages: tuple[str, ...]):
        super().__init__()
        self.base = base
        self.languages = tuple(languages)
        self.index = {lang: i for i, lang in enumerate(self.languages)}
        self.language_embeddings = nn.Parameter(torch.zeros(len(self.languages), d))
        #: which languages had parallel pairs in training (set by the method at each step; saved with the state)
        self.register_buffer("seen", torch.zeros(len(self.languages), dtype=torch.bool))

    def mark_seen(self, langs) -> None:
        with torch.no_grad():
            for lang in set(langs):
                if lang in self.index:
                    self.seen[self.index[lang]] = True

    def language_vector(self, lang: str) -> torch.Tensor:
        """``e_l`` for a language with training pairs; otherwise the documented fallback (mean over seen)."""
        i = self.index.get(lang)
        if i is not None and bool(self.seen[i]):
            return self.language_embeddings[i]
        if bool(self.seen.any()):
            return self.language_embeddings[self.seen].mean(0)
        return torch.zeros_like(self.language_embeddings[0])

    def forward(self, p_source: torch.Tensor, lang: str) -> torch.Tensor:
        return self.base(p_source + self.language_vector(lang))

    def for_training(self, p_source: torch.Tensor, lang: str) -> torch.Tensor:
        """``p_T^l`` with the language's own vector (a training pair always has its own language)."""
        if lang not in self.index:
            raise ConfigError(
                f"parallel pair of language '{lang}': no target-language vector (known: {', '.join(self.languages)})"
            )
        return self.base(p_source + self.language_embeddings[self.index[lang]])


def build_mpt_translator(
    architecture: str, d: int, conditioning: str = "none", languages: tuple[str, ...] = ()
) -> nn.Module:
    """The translator of an MPT run: Eq. 4's (or a Fig. 4 ablation's), conditioned on the language or not
    (``languages``: the task's target languages, one vector each)."""
    if conditioning not in CONDITIONING_MODES:
        raise ConfigError(
            f"translator_conditioning must be one of {', '.join(CONDITIONING_MODES)}, not '{conditioning}'"
        )
    if conditioning == "language" and not languages:
        raise ConfigError("translator_conditioning=language needs the task's target languages (one vector each)")
    base = build_translator(architecture, d)
    return base if conditioning == "none" else LanguageConditionedTranslator(base, d, tuple(languages))
