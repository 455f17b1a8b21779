#!/usr/bin/env python3
"""Peer benchmark: PyTorch + PEFT LoRA training on the same GGUF as `fedguard bench train`.

transformers loads the GGUF (dequantized to float32) as LlamaForCausalLM; PEFT adds LoRA (rank 8,
alpha 16, dropout 0, targets q_proj and v_proj); torch.optim.AdamW (lr 1e-4). Two measurements:
  padded     identical padded shapes: batch 4 x seq 256 of seeded random token ids, every position
             a target; tokens/s = 4*256*steps / seconds (after one warm-up step)
  sft        the chat samples of --sft-data (JSONL {"prompt", "response"}), rendered with the chat
             template, padded per batch to its longest sample (what HF Trainer does without packing),
             loss on response tokens only; tokens/s counts tokens that carry loss
Prints ONE JSON object on stdout; progress goes to stderr.
  python3 scripts/peer_train.py --gguf PATH [--threads N] [--steps 5] [--sft-data FILE] [--batch-size 4]
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


def log(*a):
    print("[peer-train]", *a, file=sys.stderr, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--sft-data", default=None)
    ap.add_argument("--sft-steps", type=int, default=8)
    args = ap.parse_args()

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    gguf = Path(args.gguf).resolve()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0,
                                             target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    vocab = model.config.vocab_size

    def step(input_ids, labels, attention_mask=None):
        out = model(input_ids=input_ids, labels=labels, attention_mask=attention_mask)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(out.loss)

    # (a) padded shapes
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, vocab, (args.batch_size, args.seq), generator=g)
    step(ids, ids)  # warm-up
    t0 = time.perf_counter()
    for i in range(args.steps):
        loss = step(ids, ids)
        log(f"padded step {i + 1}/{args.steps} loss {loss:.3f}")
    padded = args.batch_size * args.seq * args.steps / (time.perf_counter() - t0)
    log(f"padded: {padded:.1f} tokens/s")

    # peak resident memory of (a), as FedGuard reports it
    result = {"peer": "pytorch+peft", "torch": torch.__version__, "threads": args.threads,
              "padded_tokens_per_s": padded, "sft_loss_tokens_per_s": None,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}

    # (b) realistic SFT samples, padded per batch, loss on response tokens
    if args.sft_data:
        samples = [json.loads(l) for l in Path(args.sft_data).read_text().splitlines() if l.strip()]
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        batches = []
        for b in range(0, len(samples), args.batch_size):
            rows = []
            for s in samples[b:b + args.batch_size]:
                p = tok.apply_chat_template([{"role": "user", "content": s["prompt"]}], add_generation_prompt=True, tokenize=False)
                full = tok.apply_chat_template([{"role": "user", "content": s["prompt"]}, {"role": "assistant", "content": s["response"]}], tokenize=False)
                p_ids = tok(p, add_special_tokens=False)["input_ids"]
                f_ids = tok(full, add_special_tokens=False)["input_ids"][: args.seq]
                lab = [-100] * min(len(p_ids), len(f_ids)) + f_ids[len(p_ids):]
                rows.append((f_ids, lab))
            L = max(len(r[0]) for r in rows)
            input_ids = torch.tensor([r[0] + [pad] * (L - len(r[0])) for r in rows])
            labels = torch.tensor([r[1] + [-100] * (L - len(r[1])) for r in rows])
            mask = torch.tensor([[1] * len(r[0]) + [0] * (L - len(r[0])) for r in rows])
            # a label at position p is predicted from p-1: count the shifted targets
            batches.append((input_ids, labels, mask, int((labels[:, 1:] != -100).sum())))
        step(*batches[0][:3])  # warm-up
        n = min(args.sft_steps, len(batches))
        tokens = 0
        t0 = time.perf_counter()
        for i in range(n):
            input_ids, labels, mask, count = batches[i % len(batches)]
            loss = step(input_ids, labels, mask)
            tokens += count
            log(f"sft step {i + 1}/{n} loss {loss:.3f}")
        result["sft_loss_tokens_per_s"] = tokens / (time.perf_counter() - t0)
        log(f"sft: {result['sft_loss_tokens_per_s']:.1f} loss tokens/s")

    print(json.dumps(result))


if __name__ == "__main__":
    main()
