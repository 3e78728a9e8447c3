"""MPT — the Multilingual Prompt Translator (Qiu et al., 2024).

One training step (Eq. 8) on a few-shot English batch and a batch of parallel pairs, in ONE forward pass:

* classification rows: English inputs with ``p_S`` → CE (Eq. 3);
* alignment rows: source sentences with ``p_S`` and their translations with ``p_T = Transl(p_S)`` (Eq. 4, 5)
  → symmetric KL between the full-vocabulary MLM distributions at ``<mask>`` (Eq. 6, 7);
* ``L_total = α L_CE + (1 − α) L_KLD`` (Eq. 8). With α = 1 the alignment rows are not computed at all
  (the translator then gets no gradient); with α = 0 the classification rows are skipped.

Test time: ``p_T`` for the 14 target languages; for English ``p_S`` (``english_prompt=source``, default)
or ``p_T``. Ablations: ``no_translator`` (p_T = p_S), ``alpha=1`` (no consistency loss),
``parallel_source=xnli-dev`` (no external data); ``sp`` is MPT without its framework.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from xlprompt.batching import TokenizedExample, TokenizedPair
from xlprompt.losses import symmetric_kl, total_loss
from xlprompt.methods.base import LossOutput
from xlprompt.methods.soft_prompt import SoftPrompting
from xlprompt.models.translator import build_translator


class MultilingualPromptTranslator(SoftPrompting):
    name = "mpt"
    uses_parallel = True

    def __init__(self, config, plm, tokenizer, verbalizer):
        super().__init__(config, plm, tokenizer, verbalizer)
        self.translator = None if config.no_translator else build_translator(config.translator, plm.hidden_size)
        self.uses_parallel = config.alpha < 1.0

    def extra_modules(self) -> dict[str, nn.Module]:
        modules = {"prompt_encoder": self.prompt_encoder}
        if self.translator is not None:
            modules["translator"] = self.translator
        return modules

    def translate(self, p_source: torch.Tensor) -> torch.Tensor:
        """``p_T = Transl(p_S)`` (Eq. 4), or ``p_S`` itself in the 'w/o prompt translator' ablation."""
        return p_source if self.translator is None else self.translator(p_source)

    def prompt_for(self, lang: str) -> torch.Tensor:
        p_source = self.prompt_encoder()
        if lang == "en" and self.config.english_prompt == "source":
            return p_source
        return self.translate(p_source)

    def training_loss(self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None,
                      generator: torch.Generator) -> LossOutput:
        alpha = self.config.alpha
        cls_rows = list(batch) if alpha > 0 else []
        pairs = list(parallel or []) if alpha < 1 else []
        p_source = self.prompt_encoder()
        encoded = [self.encode(ex) for ex in cls_rows]
        encoded += [self.encode(p.source) for p in pairs] + [self.encode(p.target) for p in pairs]
        prompts = [p_source.expand(len(cls_rows) + len(pairs), -1, -1)]
        if pairs:
            prompts.append(self.translate(p_source).expand(len(pairs), -1, -1))
        hidden = self.mask_states(encoded, torch.cat(prompts))
        zero = hidden.new_zeros(())
        ce = self.classification_ce(cls_rows, hidden[: len(cls_rows)]) if cls_rows else zero
        if pairs:
            logits = self.plm.vocab_logits(hidden[len(cls_rows):])
            kl = symmetric_kl(logits[: len(pairs)], logits[len(pairs):])
        else:
            kl = zero
        loss = total_loss(ce, kl, alpha)
        return LossOutput(loss, {"ce": ce.item(), "kl": kl.item()})

    def prompts_for_export(self) -> dict[str, torch.Tensor]:
        p_source = self.prompt_encoder().detach()
        return {"p_source": p_source, "p_target": self.translate(p_source).detach()}
