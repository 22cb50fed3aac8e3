#!/usr/bin/env python3
"""Reference outputs of PyTorch Geometric's GNN layers for tests/ml/gnn/pyg_equality_test.cc.

Builds a fixed random graph, creates each PyG layer with random (seeded) parameters, runs forward
and backward of sum(out * w) for a fixed random w, and writes one file per layer to --out:
<layer>.sft holding the input, the parameters under PyG's names (prefix "param."), the output,
w, and the gradients ("grad.x", "grad.<param>"). Format (little endian): b"SFT1", u32 count, then
per tensor: u32 name length, name, u32 dtype (0 float32, 1 int64), u32 ndim, i64 dims, raw data.

With --bench-graph DIR it instead times training epochs of each layer type (two layers + linear
head, Adam, MSE) on the graph in DIR, the export_graph format
(nodes.csv, edges.csv, meta.json; docs/graphs.md) that `bench_gnn --export-graphs` writes and
`bench_gnn --graph DIR` reads, so both sides train on identical edges and features. Per layer it
prints one line `PYG_BENCH {"graph": ..., "layer": ..., "ms_per_epoch": ..., ...}`. Epochs: at
least --min-epochs and at least --min-time seconds (after 3 warm-up epochs), like Google
Benchmark's MinTime. bench/gnn_vs_pyg.sh runs both sides alternately.
"""
import argparse
import csv
import json
import os
import struct
import sys
import time

import torch
import torch_geometric
from torch_geometric.nn import GATConv, GATv2Conv, GCNConv, SAGEConv

NUM_NODES = 50
NUM_EDGES = 200
NUM_FEATURES = 8
OUT_CHANNELS = 4
HEADS = 2
SEED = 1234


def write_tensors(path, tensors):
    with open(path + ".tmp", "wb") as f:
        f.write(b"SFT1")
        f.write(struct.pack("<I", len(tensors)))
        for name, t in tensors.items():
            t = t.detach().contiguous()
            if t.dtype == torch.float32:
                code = 0
            elif t.dtype == torch.int64:
                code = 1
            else:
                raise ValueError(f"{name}: unsupported dtype {t.dtype}")
            raw = name.encode()
            f.write(struct.pack("<I", len(raw)))
            f.write(raw)
            f.write(struct.pack("<II", code, t.dim()))
            f.write(struct.pack(f"<{t.dim()}q", *t.shape))
            f.write(t.numpy().tobytes())
    os.replace(path + ".tmp", path)


def make_graph(gen, num_nodes, num_edges, num_features):
    # Plain random directed edges: duplicates and a few self-loops are kept on purpose (PyG removes
    # self-loops before adding its own; the C++ layers must do the same).
    src = torch.randint(0, num_nodes, (num_edges,), generator=gen)
    dst = torch.randint(0, num_nodes, (num_edges,), generator=gen)
    edge_index = torch.stack([src, dst])
    x = torch.randn(num_nodes, num_features, generator=gen)
    return x, edge_index


def make_layer(kind, in_channels, out_channels):
    if kind == "gcn":
        return GCNConv(in_channels, out_channels)
    if kind == "sage":
        return SAGEConv(in_channels, out_channels)
    if kind == "gat":
        return GATConv(in_channels, out_channels, heads=HEADS, dropout=0.0)
    if kind == "gatv2":
        return GATv2Conv(in_channels, out_channels, heads=HEADS, dropout=0.0)
    raise ValueError(kind)


def reference(out_dir):
    gen = torch.Generator().manual_seed(SEED)
    x, edge_index = make_graph(gen, NUM_NODES, NUM_EDGES, NUM_FEATURES)
    for kind in ("gcn", "sage", "gat", "gatv2"):
        layer = make_layer(kind, NUM_FEATURES, OUT_CHANNELS)
        with torch.no_grad():
            # Every parameter random, biases included (PyG starts them at zero).
            for p in layer.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        xg = x.clone().requires_grad_(True)
        out = layer(xg, edge_index)
        w = torch.randn(out.shape, generator=gen)
        (out * w).sum().backward()
        tensors = {"x": x, "edge_index": edge_index, "out": out, "w": w, "grad.x": xg.grad}
        # state_dict(keep_vars) names every parameter the way PyG does (GATConv's shared
        # lin_src/lin_dst appears once under named_parameters: lin_src.weight).
        for name, p in layer.named_parameters():
            tensors["param." + name] = p
            tensors["grad." + name] = p.grad
        write_tensors(os.path.join(out_dir, kind + ".sft"), tensors)
    print(f"pyg_reference: torch {torch.__version__}, torch_geometric {torch_geometric.__version__}"
          f" -> {out_dir}")


class Net(torch.nn.Module):
    def __init__(self, kind, in_channels, hidden, out_channels):
        super().__init__()
        heads = HEADS if kind in ("gat", "gatv2") else 1
        self.conv1 = make_layer(kind, in_channels, hidden)
        self.conv2 = make_layer(kind, hidden * heads, hidden)
        self.head = torch.nn.Linear(hidden * heads, out_channels)

    def forward(self, x, edge_index):
        x = self.conv1(x, edge_index).relu()
        x = self.conv2(x, edge_index).relu()
        return self.head(x)


def load_graph_dir(d):
    # csv module rather than pandas (not in the venv); same columns as docs/graphs.md's loader.
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    names = meta["feature_names"]
    with open(os.path.join(d, "nodes.csv"), newline="") as f:
        rows = csv.reader(f)
        header = next(rows)
        cols = [header.index(n) for n in names]
        x = torch.tensor([[float(r[c]) for c in cols] for r in rows], dtype=torch.float32)
    with open(os.path.join(d, "edges.csv"), newline="") as f:
        rows = csv.reader(f)
        header = next(rows)
        s, t = header.index("src"), header.index("dst")
        pairs = [(int(r[s]), int(r[t])) for r in rows]
    edge_index = torch.tensor(pairs, dtype=torch.long).t().contiguous()
    return x.reshape(-1, len(names)), edge_index


def bench_graph(graph_dir, min_epochs, min_time, hidden, threads):
    torch.set_num_threads(threads)
    x, edge_index = load_graph_dir(graph_dir)
    name = os.path.basename(os.path.normpath(graph_dir))
    num_nodes, num_features = x.shape
    gen = torch.Generator().manual_seed(SEED)
    target = torch.randn(num_nodes, 1, generator=gen)
    for kind in ("gcn", "sage", "gat", "gatv2"):
        torch.manual_seed(SEED)
        net = Net(kind, num_features, hidden, 1)
        opt = torch.optim.Adam(net.parameters(), lr=0.01)

        def epoch():
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(net(x, edge_index), target)
            loss.backward()
            opt.step()
            return loss.item()

        for _ in range(3):
            epoch()
        epochs = 0
        start = time.perf_counter()
        while True:
            loss = epoch()
            epochs += 1
            elapsed = time.perf_counter() - start
            if epochs >= min_epochs and elapsed >= min_time:
                break
        print("PYG_BENCH " + json.dumps({
            "graph": name, "layer": kind, "ms_per_epoch": round(elapsed * 1e3 / epochs, 3),
            "epochs": epochs, "loss": loss, "nodes": num_nodes, "edges": edge_index.shape[1],
            "features": num_features, "hidden": hidden, "threads": threads}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", help="directory for the reference files")
    ap.add_argument("--bench-graph", metavar="DIR",
                    help="time training epochs per layer on the exported graph in DIR")
    ap.add_argument("--min-epochs", type=int, default=3, help="--bench-graph: at least N epochs")
    ap.add_argument("--min-time", type=float, default=2.0,
                    help="--bench-graph: at least S seconds of epochs per layer")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.bench_graph:
        bench_graph(args.bench_graph, args.min_epochs, args.min_time, args.hidden, args.threads)
        return 0
    if not args.out:
        ap.error("--out or --bench-graph is required")
    os.makedirs(args.out, exist_ok=True)
    reference(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
