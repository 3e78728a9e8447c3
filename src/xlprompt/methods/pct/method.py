"""PCT — prompt-learning from cross-lingual templates (Qi et al., 2022), with hard templates.

Input (``pct_layout``): ``reference`` — the authors' pair encoding
``<s> X_P </s></s> question:X_H? Answer:<mask></s>`` with their per-language strings
(:data:`xlprompt.methods.pct.recipe.PCT_REFERENCE_TEMPLATES`); ``cloze`` —
``<s> X_P . Question: X_H ? Answer: <mask> . </s>`` (words of :data:`xlprompt.tasks.xnli.PCT_TEMPLATE_WORDS`).

Training: each source-language example is seen in its language's template and in the template of a language
drawn uniformly among the task's others (XNLI: the 14 others) — once per training example and kept for all epochs (``pct_language_draw=
example``, seeded by the run seed and the example's uid, as the authors draw it once when loading the data:
qikunxun/PCT@4b3d675 train_xnli.py:92-96) or at every step from the epoch's seeded generator (``step``).
Loss = CE(source template) + CE(other template) + ``pct_kl_weight`` · symmetric KL between the two
answer distributions at ``<mask>`` — the loss of train_xnli.py:159-168, 187-196, 208-209: CE of the label
token under the full-vocabulary softmax (``scoring=vocab``) and the KL over the vocabulary (``pct_kl_space``),
both distributions clipped to [1e-7, 1] first as Keras's ``kld`` does (``pct_kl_clip``; 0: the exact KL).
The few-shot script train_xnli_fewshot.py passes the input ids as the CE targets (l. 183-184, a bug); xlprompt
takes its schedule (the recipe) but the loss of train_xnli.py. Test: each language's text in its own
language's template; the prediction is the argmax over the whole vocabulary (``predict_over=vocab``,
predict_xnli.py), a top token that is no label word counting as wrong.
"""

from __future__ import annotations

import zlib
from typing import Sequence

import torch

from xlprompt.batching import TokenizedExample, TokenizedPair
from xlprompt.errors import ConfigError, ModelError
from xlprompt.losses import classification_loss, symmetric_kl
from xlprompt.methods.base import LossOutput, Method
from xlprompt.methods.pct.recipe import RECIPE, RECIPE_SOURCES, task_resources, task_support  # noqa: F401
from xlprompt.scoring import class_log_probs, label_word_logits, prediction_scores
from xlprompt.template import EncodedInput, PCTReferenceTemplate, cross_lingual_template


class CrossLingualTemplates(Method):
    name = "pct"

    def __init__(self, config, plm, tokenizer, verbalizer):
        super().__init__(config, plm, tokenizer, verbalizer)
        task = self.task
        resources = task_resources(task)  # the task's PCT templates (XNLI: train_xnli.py:46-53; PAWS-X: train_pawsx.py)
        if resources is None:
            raise ConfigError(f"method pct cannot run task {task.name}: {task_support(task)}")
        #: the second template's languages: the task's (XNLI: its 14 targets; PAWS-X: train_pawsx.py:53)
        self.draw_languages = tuple(resources.draw_languages)
        if config.pct_layout == "reference":
            self.templates = {
                lang: PCTReferenceTemplate(
                    tokenizer,
                    lang,
                    config.max_length,
                    self.special,
                    dict(resources.templates),
                    resources.repair,
                    single=task.single_text,
                )
                for lang in task.languages
            }
        else:
            words = resources.cloze_words or {}
            missing = [lang for lang in task.languages if lang not in words]
            if missing:
                raise ConfigError(
                    f"method pct cannot run task {task.name} with pct_layout={config.pct_layout}: PCT's cloze "
                    f"template has no words for {', '.join(missing)}; use pct_layout=reference"
                )
            self.templates = {
                lang: cross_lingual_template(tokenizer, words[lang], config.max_length, self.special, f"pct-{lang}")
                for lang in task.languages
            }

    def encode_in(self, example: TokenizedExample, lang: str) -> EncodedInput:
        """``example`` in the template of language ``lang``."""
        template = self.templates[lang]
        if isinstance(template, PCTReferenceTemplate):
            if not example.premise_text and example.premise:
                raise ModelError(
                    f"example {example.uid}: pct_layout=reference tokenises the texts, but this "
                    "example carries only token ids (build it with xlprompt.batching.TokenCache)"
                )
            return template.encode_text(example.premise_text, example.hypothesis_text)
        return template.encode(example.premise, example.hypothesis)

    def encode_for_eval(self, example: TokenizedExample, lang: str) -> EncodedInput:
        return self.encode_in(example, lang)

    def other_languages(self, batch: Sequence[TokenizedExample], generator: torch.Generator) -> list[str]:
        """The second template language of each training example (see the module docstring)."""
        langs = self.draw_languages
        if self.config.pct_language_draw == "step":
            draws = torch.randint(len(langs), (len(batch),), generator=generator).tolist()
        else:
            draws = [
                int(
                    torch.randint(
                        len(langs),
                        (1,),
                        generator=torch.Generator().manual_seed(
                            self.config.seed * 1_000_003 + zlib.crc32(ex.uid.encode("utf-8"))
                        ),
                    ).item()
                )
                for ex in batch
            ]
        return [langs[i] for i in draws]

    def training_loss(
        self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None, generator: torch.Generator
    ) -> LossOutput:
        n = len(batch)
        others = self.other_languages(batch, generator)
        encoded = [self.encode_in(ex, self.source_language) for ex in batch]
        encoded += [self.encode_in(ex, lang) for ex, lang in zip(batch, others)]
        hidden = self.mask_states(encoded)
        labels = self.labels_tensor(batch)
        ids = self.label_ids(self.source_language)
        log_probs = class_log_probs(self.plm, hidden, ids, self.config.scoring)
        ce_en = classification_loss(log_probs[:n], labels)
        ce_other = classification_loss(log_probs[n:], labels)
        if self.config.pct_kl_space == "vocab":
            logits = self.plm.vocab_logits(hidden)
        else:
            logits = label_word_logits(self.plm, hidden, ids)
        kl = symmetric_kl(logits[:n], logits[n:], self.config.pct_kl_clip)
        loss = ce_en + ce_other + self.config.pct_kl_weight * kl
        return LossOutput(loss, {"ce": (ce_en.item() + ce_other.item()) / 2, "kl": kl.item()})

    def class_scores(self, batch: Sequence[TokenizedExample], lang: str) -> torch.Tensor:
        hidden = self.mask_states([self.encode_for_eval(ex, lang) for ex in batch])
        return prediction_scores(self.plm, hidden, self.label_ids(lang), self.config.predict_over)
