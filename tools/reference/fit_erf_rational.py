#!/usr/bin/env python3
"""Fits the rational erf of int8 inference's GELU (Sources/CInt8Kernels/geglu_quantize.c).

erf(z) = z·P(z²)/Q(z²) on 0 ≤ z ≤ 3.9 with P, Q of degree 5 and Q(0) = 1: a least-squares fit of the linearised error
z·(P(u) − f(u)·Q(u)) / Q_prev(u), f = erf(z)/z, with Lawson reweighting towards the largest errors (60 rounds), in
Float64 (numpy, scipy). Then the coefficients are rounded to float32 and the approximation is evaluated the way the
kernel does it (Horner steps as fused multiply-adds, one rounding each) against scipy's erf on [0, 6] with z clamped
to 3.9, which prints the maximum absolute error (3.5e-7; the kernel's doc comment and tests quote it).

usage: python3 tools/reference/fit_erf_rational.py [degree_p degree_q clamp]
"""
import sys

import numpy as np
from scipy.special import erf

m, n, c = (int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])) if len(sys.argv) == 4 else (5, 5, 3.9)
z = np.linspace(1e-6, c, 20000)
u = z * z
f = erf(z) / z
w = np.ones_like(z)
q_prev = np.ones_like(u)
for _ in range(60):
    a = np.hstack([np.vstack([u ** i for i in range(m + 1)]).T,
                   -(f[:, None] * np.vstack([u ** i for i in range(1, n + 1)]).T)])
    weight = (w * z / q_prev)[:, None]
    sol, *_ = np.linalg.lstsq(a * weight, f * weight[:, 0], rcond=None)
    p, q = sol[:m + 1], np.concatenate([[1.0], sol[m + 1:]])
    q_prev = np.polyval(q[::-1], u)
    err = z * (np.polyval(p[::-1], u) / q_prev - f)
    w = w * (np.abs(err) / np.abs(err).max()) ** 0.5 + 1e-12
    w /= w.mean()
print(f"fit, Float64: max |error| {np.abs(err).max():.3g}")

P = [np.float32(v) for v in p]
Q = [np.float32(v) for v in q]


def horner(cs, x):
    acc = np.full_like(x, cs[-1])
    for k in cs[-2::-1]:  # fused multiply-add: the exact product plus k, rounded once to float32
        acc = (acc.astype(np.float64) * x + np.float64(k)).astype(np.float32)
    return acc


xs = np.linspace(0, 6, 2000001).astype(np.float32)
zc = np.minimum(xs, np.float32(c))
uu = (zc * zc).astype(np.float32)
approx = ((zc * horner(P, uu)).astype(np.float32) / horner(Q, uu)).astype(np.float32)
e = np.abs(approx.astype(np.float64) - erf(xs.astype(np.float64)))
print(f"float32 evaluation on [0, 6]: max |error| {e.max():.3g} at z = {xs[e.argmax()]:.4f}")
print("P (u^0 .. u^%d):" % m, ", ".join(repr(float(v)) for v in P))
print("Q (u^0 .. u^%d):" % n, ", ".join(repr(float(v)) for v in Q))
