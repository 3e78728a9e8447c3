"""MPT — the Multilingual Prompt Translator (Qiu et al., 2024).

One training step (Eq. 8) on a few-shot batch in the task's source language (XNLI: English) and a batch of parallel
pairs, in ONE forward pass:

* classification rows: source-language inputs with ``p_S`` → CE (Eq. 3);
* alignment rows: source sentences with ``p_S`` and their translations with ``p_T = Transl(p_S)`` (Eq. 4, 5)
  → symmetric KL between the full-vocabulary MLM distributions at ``<mask>`` (Eq. 6, 7);
* ``L_total = α L_CE + (1 − α) L_KLD`` (Eq. 8). With α = 1 the alignment rows are not computed at all
  (the translator then gets no gradient); with α = 0 the classification rows are skipped.

The trainer runs the same step as micro-batches (:meth:`gradient_pieces`): length-sorted chunks of the
classification rows and of the pairs (a pair's two rows stay together), each with its own forward and
backward, weighted so that the summed gradients are those of Eq. 8 (CE and KL are means over rows/pairs).
This keeps the activations of one chunk alive instead of the whole step's, and pads each chunk only to its
own longest row. ``step_token_budget=0`` (config) restores the single forward of :meth:`training_loss`.
The pieces' loss parts are detached device tensors, read by the trainer once per step (no host sync per
piece).

Test time: ``p_T`` for the task's target languages; for its source language ``p_S`` (``source_prompt=source``,
default) or ``p_T``. Ablations: ``no_translator`` (p_T = p_S), ``alpha=1`` (no consistency loss),
``parallel_source=xnli-dev`` (no external data); ``sp`` is MPT without its framework.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch
from torch import nn

from xlprompt.batching import TokenizedExample, TokenizedPair, token_budget_chunks
from xlprompt.losses import symmetric_kl, total_loss
from xlprompt.methods.base import LossOutput
from xlprompt.methods.mpt.recipe import RECIPE, RECIPE_SOURCES  # noqa: F401  (re-exported)
from xlprompt.methods.soft_prompt import SoftPrompting
from xlprompt.models.conditioned_translator import LanguageConditionedTranslator, build_mpt_translator


class MultilingualPromptTranslator(SoftPrompting):
    name = "mpt"
    uses_parallel = True
    #: Padded tokens (rows × longest row) per micro-batch of a training step (see :meth:`gradient_pieces`);
    #: None: the whole step in one forward. Set from the config key ``step_token_budget`` (0 → None).
    #: XLM-R base keeps about 0.85 MB of activations per token in fp32 training; with 1,024 tokens (the
    #: default, for CPUs) a paper-size step (24 + 2 x 24 rows, weights, gradients, AdamW state) peaks at about
    #: 5.7 GiB (benchmarks/bench_speed.py), against 18 GiB for the single forward.
    step_token_budget: int | None = 1024

    def __init__(self, config, plm, tokenizer, verbalizer):
        super().__init__(config, plm, tokenizer, verbalizer)
        self.translator = (
            None
            if config.no_translator
            else build_mpt_translator(
                config.translator, plm.hidden_size, config.translator_conditioning, config.task_spec().target_languages
            )
        )
        #: translator_conditioning=language: p_T^l = Transl(p_S + e_l) per target language
        self.conditioned = isinstance(self.translator, LanguageConditionedTranslator)
        self.uses_parallel = config.alpha < 1.0
        self.step_token_budget = config.step_token_budget or None
        # Every MPT loss reads the tied MLM head, so the embedding gradient may be sparse (saves memory).
        plm.sparse_embedding_grad = True

    def extra_modules(self) -> dict[str, nn.Module]:
        modules = {"prompt_encoder": self.prompt_encoder}
        if self.translator is not None:
            modules["translator"] = self.translator
        return modules

    def translate(self, p_source: torch.Tensor, lang: str | None = None) -> torch.Tensor:
        """``p_T = Transl(p_S)`` (Eq. 4), or ``p_S`` itself in the 'w/o prompt translator' ablation. With
        ``translator_conditioning=language``: ``p_T^lang`` (a language without training pairs, or None, gets
        the fallback of :mod:`xlprompt.models.conditioned_translator`)."""
        if self.translator is None:
            return p_source
        if self.conditioned:
            return self.translator(p_source, lang or "")
        return self.translator(p_source)

    def target_prompts(self, p_source: torch.Tensor, pairs: Sequence[TokenizedPair]) -> torch.Tensor:
        """The prompts [k, m, d] of the pairs' target sides: one shared ``p_T``, or each pair its own
        language's ``p_T^l`` (computed once per language of the batch)."""
        if not self.conditioned:
            return self.translate(p_source).expand(len(pairs), -1, -1)
        langs = [p.target.lang for p in pairs]
        self.translator.mark_seen(langs)
        per_lang = {lang: self.translator.for_training(p_source, lang) for lang in dict.fromkeys(langs)}
        return torch.stack([per_lang[lang] for lang in langs])

    def prompt_for(self, lang: str) -> torch.Tensor:
        p_source = self.prompt_encoder()
        if lang == self.source_language and self.config.source_prompt == "source":
            return p_source
        return self.translate(p_source, lang)

    def training_loss(
        self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None, generator: torch.Generator
    ) -> LossOutput:
        alpha = self.config.alpha
        cls_rows = list(batch) if alpha > 0 else []
        pairs = list(parallel or []) if alpha < 1 else []
        p_source = self.prompt_encoder()
        encoded = [self.encode(ex) for ex in cls_rows]
        encoded += [self.encode(p.source) for p in pairs] + [self.encode(p.target) for p in pairs]
        prompts = [p_source.expand(len(cls_rows) + len(pairs), -1, -1)]
        if pairs:
            prompts.append(self.target_prompts(p_source, pairs))
        hidden = self.mask_states(encoded, torch.cat(prompts))
        zero = hidden.new_zeros(())
        ce = self.classification_ce(cls_rows, hidden[: len(cls_rows)]) if cls_rows else zero
        if pairs:
            logits = self.plm.vocab_logits(hidden[len(cls_rows) :])
            kl = symmetric_kl(logits[: len(pairs)], logits[len(pairs) :])
        else:
            kl = zero
        loss = total_loss(ce, kl, alpha)
        return LossOutput(loss, {"ce": ce.item(), "kl": kl.item()})

    def gradient_pieces(
        self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None, generator: torch.Generator
    ) -> Iterator[LossOutput]:
        """:meth:`training_loss` as micro-batches: ``α · (n_c/n) · CE_c`` per chunk of classification rows and
        ``(1 − α) · (k_c/k) · KL_c`` per chunk of pairs; they add up to Eq. 8, and so do their gradients."""
        alpha = self.config.alpha
        cls_rows = list(batch) if alpha > 0 else []
        pairs = list(parallel or []) if alpha < 1 else []
        if self.step_token_budget is None or not (cls_rows or pairs):
            yield from super().gradient_pieces(batch, parallel, generator)
            return
        with self.plm.deferred_head_grad():  # the tied |V| x d head gradient: once per step, in place
            yield from self._micro_batches(cls_rows, pairs, alpha)

    def _micro_batches(
        self, cls_rows: list[TokenizedExample], pairs: list[TokenizedPair], alpha: float
    ) -> Iterator[LossOutput]:
        zero = torch.zeros((), device=self.device)
        encoded = [self.encode(ex) for ex in cls_rows]
        for idx in token_budget_chunks([len(e.input_ids) for e in encoded], self.step_token_budget):
            hidden = self.mask_states([encoded[i] for i in idx], self.prompt_encoder().expand(len(idx), -1, -1))
            ce = self.classification_ce([cls_rows[i] for i in idx], hidden) * (len(idx) / len(cls_rows))
            yield LossOutput(total_loss(ce, zero, alpha), {"ce": ce.detach(), "kl": 0.0})  # read once per step
        sources = [self.encode(p.source) for p in pairs]
        targets = [self.encode(p.target) for p in pairs]
        lengths = [max(len(s.input_ids), len(t.input_ids)) for s, t in zip(sources, targets)]
        for idx in token_budget_chunks(lengths, max(1, self.step_token_budget // 2)):  # 2 rows per pair
            k = len(idx)
            p_source = self.prompt_encoder()
            prompts = torch.cat([p_source.expand(k, -1, -1), self.target_prompts(p_source, [pairs[i] for i in idx])])
            hidden = self.mask_states([sources[i] for i in idx] + [targets[i] for i in idx], prompts)
            logits = self.plm.vocab_logits(hidden)
            kl = symmetric_kl(logits[:k], logits[k:]) * (k / len(pairs))
            yield LossOutput(total_loss(zero, kl, alpha), {"ce": 0.0, "kl": kl.detach()})

    def prompts_for_export(self) -> dict[str, torch.Tensor]:
        p_source = self.prompt_encoder().detach()
        out = {"p_source": p_source, "p_target": self.translate(p_source).detach()}
        if self.conditioned:  # p_target: the fallback; p_target.<lang>: each target language of the task its own
            languages = self.translator.languages
            out.update({f"p_target.{lang}": self.translate(p_source, lang).detach() for lang in languages})
        return out
