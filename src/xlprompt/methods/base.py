"""What every method provides to the trainer, the evaluator and the exporter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Sequence

import torch
from torch import nn

from xlprompt.batching import TokenizedExample, TokenizedPair, collate
from xlprompt.config import RunConfig
from xlprompt.device import pin
from xlprompt.models.masked_lm import MaskedLM
from xlprompt.template import EncodedInput, SpecialTokens
from xlprompt.verbalizer import Verbalizer


@dataclass
class LossOutput:
    """The loss to minimise and its named parts (logged per epoch): floats, or detached 0-d tensors that the
    trainer reads once per step (no host-device synchronisation per micro-batch)."""

    loss: torch.Tensor
    parts: dict[str, float | torch.Tensor] = field(default_factory=dict)


class Method(nn.Module):
    """A few-shot cross-lingual method around a masked LM.

    Subclasses implement :meth:`training_loss` (one step), :meth:`class_scores` (label scores for a batch of
    one language) and :meth:`extra_modules` (what they add to the PLM: prompt encoder, translator, head).
    """

    name = "base"
    #: whether the method trains on the external parallel corpus
    uses_parallel = False

    def __init__(self, config: RunConfig, plm: MaskedLM, tokenizer, verbalizer: Verbalizer | None):
        super().__init__()
        self.config = config
        self.plm = plm
        self.tokenizer = tokenizer
        self.verbalizer = verbalizer
        self.special = SpecialTokens.from_tokenizer(tokenizer)
        #: the run's task, and its source language (the language of the few-shot train and dev data)
        self.task = config.task_spec()
        self.source_language: str = self.task.source_language
        if config.freeze_plm:
            for p in self.plm.parameters():
                p.requires_grad_(False)

    @property
    def device(self) -> torch.device:
        return self.plm.word_embeddings.weight.device

    # ------------------------------------------------------------------ to implement
    def training_loss(
        self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None, generator: torch.Generator
    ) -> LossOutput:
        raise NotImplementedError

    def gradient_pieces(
        self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None, generator: torch.Generator
    ) -> Iterator[LossOutput]:
        """The step's loss as pieces with independent computation graphs whose losses (and parts) add up to
        :meth:`training_loss`'s. The trainer calls ``backward`` on each piece before the next one is computed,
        so only one piece's activations are alive at a time; the summed gradients are those of the whole loss.

        Default: one piece, :meth:`training_loss` itself. MPT splits its step into micro-batches.
        """
        yield self.training_loss(batch, parallel, generator)

    def class_scores(self, batch: Sequence[TokenizedExample], lang: str) -> torch.Tensor:
        """Scores [N, C] (C: the task's labels; more columns with ``predict_over=vocab``) whose argmax is the
        predicted class, for inputs in language ``lang`` (a code of the run's task)."""
        raise NotImplementedError

    def encode_for_eval(self, example: TokenizedExample, lang: str) -> EncodedInput:
        raise NotImplementedError

    def eval_length(self, example: TokenizedExample, lang: str) -> int:
        """The length of the example's evaluation input (evaluation batches are sorted by it): the template's,
        or, for a method without one (:meth:`encode_for_eval` not implemented), its two texts' ids."""
        try:
            return len(self.encode_for_eval(example, lang).input_ids)
        except NotImplementedError:
            return len(example.premise) + len(example.hypothesis)

    def prepare_inputs(self, examples: Sequence[TokenizedExample]) -> None:
        """Called before the inputs of many examples are built (evaluation): a method whose template tokenises
        text itself (DPA) tokenises them here in one batch. Default: nothing to do."""

    def extra_modules(self) -> dict[str, nn.Module]:
        return {}

    def prompts_for_export(self) -> dict[str, torch.Tensor]:
        """The learned prompt vectors (p_S, p_T, ...) to store with the run."""
        return {}

    # ------------------------------------------------------------------ shared helpers
    def parameter_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(PLM parameters that train, the method's own parameters)."""
        plm = [p for p in self.plm.parameters() if p.requires_grad]
        own = [p for m in self.extra_modules().values() for p in m.parameters() if p.requires_grad]
        return plm, own

    def named_parameter_groups(self) -> tuple[list[tuple[str, nn.Parameter]], list[tuple[str, nn.Parameter]]]:
        """:meth:`parameter_groups` with names (``plm.…`` as in the HF model, ``<module>.…`` for the method's
        own): the weight-decay exemptions match substrings of these names."""
        plm = [(f"plm.{n}", p) for n, p in self.plm.hf_model.named_parameters() if p.requires_grad]
        own = [
            (f"{name}.{n}", p)
            for name, m in self.extra_modules().items()
            for n, p in m.named_parameters()
            if p.requires_grad
        ]
        return plm, own

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """Everything that training changes, by name: the PLM's parameters (each tied tensor once; only
        if the PLM trains) and the state of the method's own modules."""
        state = {}
        if not self.config.freeze_plm:
            state.update({f"plm.{k}": p for k, p in self.plm.hf_model.named_parameters()})
        for name, module in self.extra_modules().items():
            state.update({f"{name}.{k}": v for k, v in module.state_dict().items()})
        return state

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        """Inverse of :meth:`trainable_state`; copies in place, so tied weights stay tied."""
        if not self.config.freeze_plm:
            params = dict(self.plm.hf_model.named_parameters())
            missing = set(params) - {k[4:] for k in state if k.startswith("plm.")}
            if missing:
                raise KeyError(f"state lacks PLM parameters: {sorted(missing)[:3]}")
            with torch.no_grad():
                for name, param in params.items():
                    param.copy_(state[f"plm.{name}"])
        for name, module in self.extra_modules().items():
            prefix = name + "."
            module.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})

    def mask_states(self, encoded: Sequence[EncodedInput], prompts: torch.Tensor | None = None) -> torch.Tensor:
        """One forward pass (the last layer at the `<mask>` only); the MLM head's transform there: [N, d].

        ``prompts`` [N, m, d] are placed at the inputs' prompt slots (soft-prompt methods).
        """
        inputs = collate(encoded, self.special.pad_id, self.device)
        embeds = self.plm.embed(inputs.input_ids, inputs.prompt_positions, prompts)
        return self.plm.head_transform(self.plm.encode_at(embeds, inputs.attention_mask, inputs.mask_positions))

    def label_ids(self, lang: str) -> torch.Tensor:
        """The label words' token ids for ``lang`` on the method's device (made once per language and device:
        no host-to-device copy per micro-batch)."""
        cache = self.__dict__.setdefault("_label_ids", {})
        key = (lang, self.device)
        if key not in cache:
            with torch.inference_mode(False):  # a normal tensor even when first asked for during evaluation
                cache[key] = self.verbalizer.tensor_for(lang, self.device)
        return cache[key]

    def labels_tensor(self, batch: Sequence[TokenizedExample]) -> torch.Tensor:
        return pin(torch.tensor([ex.label for ex in batch], dtype=torch.long), self.device)
