"""Parametric memory: LoRA adapters as memories of kind ``parametric`` (docs/parametric.md).

- ``lora``: reading a PEFT adapter (``adapter_config.json`` + ``adapter_model.safetensors``) and checking it
  against a base model (architecture, target modules, shapes) before it is accepted
- ``service``: the records: register (upload), a new version, rollback, training records, the API schema
- ``pool``: adapters loaded into a serving copy of a model on demand, evicted past a count or byte budget
- ``batcher``: greedy generation for requests of different adapters in one batch (PEFT ``adapter_names``)
- ``serving``: generation with an adapter for the API (batched, or after a KV snapshot)
- ``training``: fine-tuning a LoRA on a cube's plaintext memories; ``tasks``: the ``parametric.train`` job

Modules import torch and peft lazily, so importing this package is cheap.
"""
