#!/usr/bin/env python3
"""Peer benchmark: Hugging Face transformers (PyTorch CPU, float32) on a Llama GGUF.

Measures, with the model's chat template applied to every prompt of benchmarks/prompts.json:
  load_s                   tokenizer + model load from the GGUF (transformers dequantizes to float32)
  prefill_tokens_per_s     one forward over the rendered 'prefill' passage truncated to 256 tokens (median of 3)
  decode_tokens_per_s      single-stream greedy decode with KV cache, --decode-tokens new tokens, prefill excluded
  batched_tokens_per_s     --batch prompts, left padding, greedy, --new-tokens each (forced): batch*new_tokens /
                           wall seconds of generate() (prefill included)
  peak_rss_mb              resource.getrusage peak resident set size
  llama_cpp_decode_tokens_per_s   llama-cpp-python single-stream decode on the same GGUF (if importable)

Prints ONE JSON object on stdout; progress goes to stderr.
  python3 scripts/peer_generate.py --gguf PATH [--threads N] [--batch 32] [--new-tokens 64]
                                   [--decode-tokens 128] [--prompts benchmarks/prompts.json] [--llama-cpp auto|off]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def log(*a):
    print("[peer]", *a, file=sys.stderr, flush=True)


def render(tok, text: str) -> list[int]:
    s = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, tokenize=False)
    return tok(s, add_special_tokens=False)["input_ids"]


def bench_transformers(args, doc) -> dict:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    gguf = Path(args.gguf).resolve()
    log(f"torch {torch.__version__}, transformers {transformers.__version__}, threads {torch.get_num_threads()}")

    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    model.eval()
    load_s = time.perf_counter() - t0
    log(f"load {load_s:.2f} s")
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    # ---- prefill: forward over exactly prefill_tokens tokens
    n_prefill = int(doc.get("prefill_tokens", 256))
    ids = render(tok, doc["prefill"])
    if len(ids) < n_prefill:
        raise SystemExit(f"prefill passage renders to {len(ids)} tokens < {n_prefill}")
    x = torch.tensor([ids[:n_prefill]])
    times = []
    with torch.inference_mode():
        model(x, use_cache=False)  # warm-up
        for _ in range(3):
            t = time.perf_counter()
            model(x, use_cache=False)
            times.append(time.perf_counter() - t)
    prefill_tps = n_prefill / statistics.median(times)
    log(f"prefill {n_prefill} tokens: {[round(v, 3) for v in times]} s -> {prefill_tps:.1f} tokens/s")

    # ---- single-stream decode: generate(1 new) = prefill + first token; generate(1 + N new) adds N decode steps
    single = torch.tensor([render(tok, doc["single"])])
    mask = torch.ones_like(single)
    n_dec = args.decode_tokens

    def gen(n: int) -> float:
        t = time.perf_counter()
        out = model.generate(single, attention_mask=mask, do_sample=False, max_new_tokens=n, min_new_tokens=n,
                             pad_token_id=pad_id)
        dt = time.perf_counter() - t
        assert out.shape[1] - single.shape[1] == n, out.shape
        return dt

    with torch.inference_mode():
        gen(4)  # warm-up
        first = statistics.median([gen(1) for _ in range(3)])
        full = gen(1 + n_dec)
    decode_tps = n_dec / (full - first)
    log(f"decode: prompt {single.shape[1]} tokens, first {first:.3f} s, 1+{n_dec} tokens {full:.2f} s "
        f"-> {decode_tps:.2f} tokens/s")

    # ---- batched greedy generation, left padding, forced length
    prompts = doc["prompts"][: args.batch]
    if len(prompts) < args.batch:
        raise SystemExit(f"need {args.batch} prompts, file has {len(prompts)}")
    rendered = [tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
                for p in prompts]
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    enc = tok(rendered, return_tensors="pt", padding=True, add_special_tokens=False)
    lens = enc["attention_mask"].sum(1).tolist()
    log(f"batched: {args.batch} prompts, {min(lens)}..{max(lens)} tokens (padded to {enc['input_ids'].shape[1]}), "
        f"{args.new_tokens} new tokens each")
    with torch.inference_mode():
        t = time.perf_counter()
        out = model.generate(**enc, do_sample=False, max_new_tokens=args.new_tokens,
                             min_new_tokens=args.new_tokens, pad_token_id=pad_id)
        batched_wall = time.perf_counter() - t
    assert out.shape == (args.batch, enc["input_ids"].shape[1] + args.new_tokens), out.shape
    batched_tps = args.batch * args.new_tokens / batched_wall
    log(f"batched wall {batched_wall:.1f} s -> {batched_tps:.1f} generated tokens/s")
    log("sample: " + repr(tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)[:120]))

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "load_s": round(load_s, 3),
        "prefill_tokens": n_prefill,
        "prefill_tokens_per_s": round(prefill_tps, 2),
        "decode_tokens": n_dec,
        "decode_tokens_per_s": round(decode_tps, 3),
        "batched_tokens_per_s": round(batched_tps, 3),
        "batched_wall_s": round(batched_wall, 2),
        "_single_prompt_ids": single[0].tolist(),
    }


def bench_llama_cpp(gguf: str, threads: int, prompt_ids: list[int], n_dec: int) -> float | None:
    try:
        from llama_cpp import Llama
    except Exception as e:  # optional peer
        log(f"llama_cpp not available ({type(e).__name__}); skipping")
        return None
    try:
        llm = Llama(model_path=gguf, n_threads=threads, n_threads_batch=threads, n_ctx=1024, n_batch=512,
                    verbose=False)
        # llm.generate yields tokens without stopping at EOS; greedy via top_k=1 / temp=0
        it = llm.generate(prompt_ids, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0, reset=True)
        next(it)  # prefill + first token, excluded
        t = time.perf_counter()
        for _ in range(n_dec):
            next(it)
        dt = time.perf_counter() - t
        tps = n_dec / dt
        log(f"llama.cpp decode {n_dec} tokens {dt:.2f} s -> {tps:.1f} tokens/s")
        return round(tps, 3)
    except Exception as e:
        log(f"llama_cpp benchmark failed: {e!r}")
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--decode-tokens", type=int, default=128)
    ap.add_argument("--prompts", default=str(REPO / "benchmarks" / "prompts.json"))
    ap.add_argument("--llama-cpp", choices=["auto", "off"], default="auto")
    args = ap.parse_args()
    if not Path(args.gguf).is_file():
        raise SystemExit(f"no such GGUF: {args.gguf}")
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    doc = json.loads(Path(args.prompts).read_text())

    real_stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the single JSON object
        res = bench_transformers(args, doc)
        prompt_ids = res.pop("_single_prompt_ids")
        llama = None
        if args.llama_cpp == "auto":
            llama = bench_llama_cpp(str(Path(args.gguf).resolve()), args.threads, prompt_ids, args.decode_tokens)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    out = {
        "peer": "transformers",
        "torch": res["torch"],
        "transformers": res["transformers"],
        "gguf": Path(args.gguf).name,
        "threads": args.threads,
        "load_s": res["load_s"],
        "prefill_tokens": res["prefill_tokens"],
        "prefill_tokens_per_s": res["prefill_tokens_per_s"],
        "decode_tokens": res["decode_tokens"],
        "decode_tokens_per_s": res["decode_tokens_per_s"],
        "batched_tokens_per_s": res["batched_tokens_per_s"],
        "batched_wall_s": res["batched_wall_s"],
        "batch": args.batch,
        "new_tokens": args.new_tokens,
        "peak_rss_mb": round(peak_kb / 1024.0, 1),
        "llama_cpp_decode_tokens_per_s": llama,
    }
    real_stdout.write(json.dumps(out) + "\n")
    real_stdout.flush()


if __name__ == "__main__":
    main()
