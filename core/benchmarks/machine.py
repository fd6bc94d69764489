"""A fixed reference workload, so that figures from different days can be compared.

    OMP_NUM_THREADS=1 python -m core bench --only machine

The machine this project runs on is shared, and it is not always the same host: the
same code and weights have timed twice as slow on one day as on another. Timings of
models say little on their own; this benchmark times work that never changes with the
code, at two sizes Impasto's models work at:

- ``dense``: 512 x 512 float32 matrix products, as GFLOP/s;
- ``small ops``: a 64 x 128 -> 512 -> 128 MLP step with layer norm and GELU, the shape
  of one row-batch through a Transformer block while sampling, where per-call overhead
  weighs more, as microseconds per step.

Do not change the workloads: their value is that they stay the same.
"""
from __future__ import annotations

from typing import Any

from core.bench import measure


def bench_reference() -> list[dict[str, Any]]:
    import torch

    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(512, 512, generator=generator), torch.randn(512, 512, generator=generator)
    products = 20
    dense = measure(lambda: [a @ b for _ in range(products)], runs=7, warmup=2)
    gflops = products * 2 * 512 ** 3 / dense["median_s"] / 1e9

    width, rows, steps = 128, 64, 200
    norm, up, down = torch.nn.LayerNorm(width), torch.nn.Linear(width, 4 * width), torch.nn.Linear(4 * width, width)
    x = torch.randn(rows, width, generator=generator)

    def mlp_steps() -> None:
        with torch.inference_mode():
            h = x
            for _ in range(steps):
                h = h + down(torch.nn.functional.gelu(up(norm(h))))

    small = measure(mlp_steps, runs=7, warmup=2)
    return [{"job": "machine dense (512x512 matmul)", "gflops": round(gflops, 1),
             "threads": torch.get_num_threads(), **dense},
            {"job": "machine small ops (64x128 MLP step)", "us_per_step": round(small["median_s"] / steps * 1e6, 1),
             "threads": torch.get_num_threads(), **small}]
