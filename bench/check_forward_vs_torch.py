"""Cross-check of dnabert-probe's forward against the PyTorch peer model in bench_forward_probe_torch.py.
Writes /tmp/dnabert_check/{params,ids,mask,expected}.bin (float32/int32, our flat ParameterLayout order,
no MLM head), then `dnabert-probe check /tmp/dnabert_check B L layers` prints the max difference.

    python3 bench/check_forward_vs_torch.py [B L layers]
"""
import os, sys
import numpy as np
import torch
sys.path.insert(0, os.path.dirname(__file__))
import bench_forward_probe_torch as peer

B, L, NL = (int(a) for a in sys.argv[1:4]) if len(sys.argv) > 3 else (3, 300, 2)
peer.LAYERS = NL
torch.manual_seed(1)
m = peer.Encoder().eval()
with torch.no_grad():
    for name, p in m.named_parameters():
        if name.endswith("ln.weight") or ".ln1.weight" in name or ".ln2.weight" in name:
            p.copy_(1 + 0.2 * torch.randn_like(p))
        elif p.dim() == 1:
            p.copy_(0.1 * torch.randn_like(p))
        else:
            p.copy_(0.05 * torch.randn_like(p))
order = [m.emb.weight, m.tok_type.weight, m.ln.weight, m.ln.bias]
for l in m.layers:
    order += [l.Wqkv.weight, l.Wqkv.bias, l.dense.weight, l.dense.bias, l.ln1.weight, l.ln1.bias,
              l.gated.weight, l.wo.weight, l.wo.bias, l.ln2.weight, l.ln2.bias]
ids = torch.randint(0, peer.VOCAB, (B, L))
mask = torch.ones(B, L, dtype=torch.long)
for b in range(1, B):
    mask[b, L - 37 * b:] = 0            # right padding of increasing length
with torch.inference_mode():
    out = m(ids, mask)
d = "/tmp/dnabert_check"
os.makedirs(d, exist_ok=True)
np.concatenate([t.detach().numpy().ravel() for t in order]).astype(np.float32).tofile(f"{d}/params.bin")
ids.numpy().astype(np.int32).tofile(f"{d}/ids.bin")
mask.numpy().astype(np.int32).tofile(f"{d}/mask.bin")
out.numpy().astype(np.float32).tofile(f"{d}/expected.bin")
print(f"wrote {d}: B={B} L={L} layers={NL}, max |expected| = {out.abs().max().item():.3f}")
