"""Finding layer boundaries and attention maps in an ONNX graph (free of onnxruntime).

Boundary l = 0..L is the residual-stream tensor entering block l (boundary L leaves the last
block), matching transformers' `output_hidden_states`. Three ways to find them, in order:
  override   the user's `--layer-outputs` tensor names;
  names      exporters keep module paths in node names (`/encoder/layer.3/...`, `/h.3/...`);
  structure  node names stripped: each attention Softmax anchors one block, and the boundary
             entering block l is the skip input of the residual Add that spans that Softmax.
Graphs without attention Softmax nodes (CNNs, RNNs) have no boundaries.
"""
from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import onnx
from onnx import helper

from auditor.errors import BadInput
from auditor.messages import Message, render

_SHAPE_OPS = frozenset({"Shape", "Size"})                # their outputs carry no activations
_PROJECTIONS = frozenset({"MatMul", "Gemm", "Einsum", "FusedMatMul", "MatMulInteger", "Conv"})
_NORMS = frozenset({"LayerNormalization", "SimplifiedLayerNormalization", "RMSNormalization"})
_PASS_THROUGH = frozenset({"Cast", "Dropout", "Identity", "Where", "Mul"})   # softmax -> @V
# one path segment naming a block: layer.3, layers.3, h.3, block.3, blocks.3, layer_._3 (tf2onnx)
_BLOCK_SEGMENT = re.compile(r"^(layer|layers|h|block|blocks|resblocks)(?:\.|_\._|_)(\d+)$")


@dataclass
class Discovery:
    """Where the layer boundaries and attention maps are in a graph."""

    boundaries: list[str] = field(default_factory=list)   # L+1 tensor names; empty when none
    attentions: list[str] | None = None                   # L Softmax outputs, one per block
    method: str = "none"                                  # "override" | "names" | "structure" | "none"
    style: str | None = None                              # "post-ln" | "pre-ln"
    notes: list[str] = field(default_factory=list)          # English, for the audit's input notes
    reasons: list[Message] = field(default_factory=list)    # the same notes as catalogue sentences

    def note(self, reason: Message) -> None:
        self.reasons.append(reason)
        self.notes.append(render(reason, "en"))

    @property
    def layers(self) -> int | None:
        return len(self.boundaries) - 1 if self.boundaries else None


class GraphIndex:
    """Producers, consumers and activation ("data") tensors of a topologically sorted graph."""

    def __init__(self, model: onnx.ModelProto) -> None:
        graph = model.graph
        self.nodes = list(graph.node)
        initializers = {t.name for t in graph.initializer} | {t.values.name for t in graph.sparse_initializer}
        self.inputs = [v.name for v in graph.input if v.name not in initializers]
        self.outputs = [v.name for v in graph.output]
        self.producer: dict[str, int] = {}
        self.consumers: dict[str, list[int]] = defaultdict(list)
        for i, node in enumerate(self.nodes):
            for name in node.output:
                if name:
                    self.producer[name] = i
            for name in node.input:
                if name:
                    self.consumers[name].append(i)
        # Activations depend on a graph input through values, not only through shapes: position
        # ids made from Shape(input_ids), and anything computed from them alone, are not.
        self.data: set[str] = set(self.inputs)
        for node in self.nodes:
            if node.op_type not in _SHAPE_OPS and any(x in self.data for x in node.input):
                self.data.update(o for o in node.output if o)
        self.types, self.ranks = _infer_types(model)

    def index(self, tensor: str) -> int:
        return self.producer.get(tensor, -1)

    def data_inputs(self, i: int) -> list[str]:
        return [x for x in self.nodes[i].input if x in self.data]

    def is_ancestor(self, a: str, b: str) -> bool:
        """Whether activation `a` flows into `b`; the walk stops at nodes older than a's producer."""
        floor = self.index(a)
        seen, todo = set(), deque([b])
        while todo:
            t = todo.popleft()
            if t == a:
                return True
            i = self.producer.get(t)
            if i is None or i <= floor or t in seen:
                continue
            seen.add(t)
            todo.extend(self.data_inputs(i))
        return False

    def ancestors(self, tensor: str) -> set[str]:
        return self._closure(tensor, lambda t: self.data_inputs(self.producer[t]) if t in self.producer else [])

    def descendants(self, tensor: str) -> set[str]:
        return self._closure(tensor, lambda t: [o for i in self.consumers.get(t, ()) for o in self.nodes[i].output
                                                if o in self.data])

    @staticmethod
    def _closure(start: str, step: Callable[[str], list[str]]) -> set[str]:
        seen, todo = set(), deque([start])
        while todo:
            t = todo.popleft()
            if t not in seen:
                seen.add(t)
                todo.extend(step(t))
        return seen

    def uncast(self, tensor: str) -> str:
        """The tensor before Cast/Identity nodes (Llama's RMSNorm casts the residual stream)."""
        while tensor in self.producer and self.nodes[self.producer[tensor]].op_type in ("Cast", "Identity"):
            source = self.nodes[self.producer[tensor]].input[0]
            if source not in self.data:
                break
            tensor = source
        return tensor

    def attention_softmaxes(self) -> list[int]:
        """Softmax nodes whose probabilities go on to weight values (a MatMul), in graph order."""
        found = []
        for i, node in enumerate(self.nodes):
            if node.op_type != "Softmax" or node.output[0] not in self.data:
                continue
            if self.ranks.get(node.output[0]) not in (None, 3, 4):
                continue
            frontier, hit = [node.output[0]], False
            for _ in range(4):
                nxt = []
                for t in frontier:
                    for c in self.consumers.get(t, ()):
                        op = self.nodes[c].op_type
                        hit = hit or op in _PROJECTIONS
                        if op in _PASS_THROUGH:
                            nxt.extend(self.nodes[c].output)
                frontier = nxt
            if hit:
                found.append(i)
        return found

    def is_norm_output(self, tensor: str) -> bool:
        """Whether a tensor leaves a LayerNorm (one op, or the opset<17 ReduceMean/Sqrt/Div chain)."""
        i = self.producer.get(tensor)
        if i is None:
            return False
        if self.nodes[i].op_type in _NORMS:
            return True
        ops, todo = set(), deque([(i, 0)])
        while todo:
            j, depth = todo.popleft()
            node = self.nodes[j]
            ops.add(node.op_type)
            if depth >= 6 or node.op_type in _PROJECTIONS or node.op_type == "Softmax" or self._is_merge(j):
                continue
            todo.extend((self.producer[x], depth + 1) for x in self.data_inputs(j) if x in self.producer)
        return "ReduceMean" in ops and bool(ops & {"Sqrt", "Reciprocal"})

    def norm_after(self, tensor: str) -> str | None:
        """The output of the LayerNorm applied to `tensor` (post-LN blocks end with one)."""
        for c in self.consumers.get(tensor, ()):
            node = self.nodes[c]
            if node.op_type in _NORMS and node.input[0] == tensor:
                return node.output[0]
        for c in self.consumers.get(tensor, ()):
            sub = self.nodes[c]
            mean = self.producer.get(sub.input[1]) if sub.op_type == "Sub" and len(sub.input) > 1 else None
            if sub.input[0] != tensor or mean is None or self.nodes[mean].op_type != "ReduceMean":
                continue
            for d in self.consumers.get(sub.output[0], ()):
                if self.nodes[d].op_type in ("Div", "Mul") and self.nodes[d].input[0] == sub.output[0]:
                    return self._affine_tail(self.nodes[d].output[0])
        return None

    def _affine_tail(self, tensor: str) -> str:
        """Follow the optional `* gamma + beta` of a decomposed LayerNorm."""
        for op in ("Mul", "Add"):
            users = self.consumers.get(tensor, ())
            if len(users) == 1 and self.nodes[users[0]].op_type == op and len(self.data_inputs(users[0])) == 1:
                tensor = self.nodes[users[0]].output[0]
        return tensor

    def _is_merge(self, i: int) -> bool:
        node = self.nodes[i]
        return node.op_type == "Add" and len(self.data_inputs(i)) == 2


def load_model(path: Path) -> onnx.ModelProto:
    """The graph with external weights left on disk (only their names, types and shapes are read)."""
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises DecodeError and others for non-ONNX files
        raise BadInput(f"{path} is not a readable ONNX model ({exc.__class__.__name__})") from None


def discover(model: onnx.ModelProto, layer_outputs: list[str] | None = None,
             index: GraphIndex | None = None) -> Discovery:
    """Layer boundaries and per-block attention Softmax outputs of a graph."""
    g = index or GraphIndex(model)
    if layer_outputs:
        known = set(g.producer) | set(g.inputs)
        unknown = [n for n in layer_outputs if n not in known]
        if unknown:
            raise BadInput(f"--layer-outputs names tensor(s) not in the graph: {', '.join(unknown)}")
        found = Discovery(boundaries=list(layer_outputs), method="override")
    else:
        found = _by_names(g) or _by_structure(g)
        if found is None:
            found = Discovery()
            found.note(_why_none(g))
    if found.boundaries:
        found.attentions = _attentions(g, found.boundaries)
        if found.attentions is None:
            found.note(Message("adapter.onnx.no_attention_per_block"))
        if found.style is None and len(found.boundaries) > 1:
            found.style = "post-ln" if g.is_norm_output(found.boundaries[1]) else "pre-ln"
    return found


def _why_none(g: GraphIndex) -> Message:
    softmaxes = len(g.attention_softmaxes())
    if not softmaxes:
        return Message("adapter.onnx.no_blocks")
    return Message("adapter.onnx.boundaries_not_placed", {"softmaxes": softmaxes})


def _by_names(g: GraphIndex) -> Discovery | None:
    """Boundaries from exporter module paths in node names."""
    groups: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, node in enumerate(g.nodes):
        parts = node.name.split("/")
        for j, part in enumerate(parts):
            m = _BLOCK_SEGMENT.match(part)
            if m:
                groups["/".join(parts[:j]) + "/" + m.group(1)][int(m.group(2))].append(i)
                break
    # the longest stack numbered 0..L-1 (an encoder-decoder has two; the longer one is audited)
    best = max((blocks for blocks in groups.values() if set(blocks) == set(range(len(blocks)))),
               key=len, default=None)
    if not best:
        return None
    layers = len(best)
    boundaries: list[str] = []
    first = set(best[0])
    later = set(best[1]) if layers > 1 else set()
    for i in best[0]:   # what block 0 reads from outside that block 1 does not: the embeddings
        for x in g.data_inputs(i):
            if g.index(x) not in first and x not in boundaries and not any(c in later for c in g.consumers[x]):
                boundaries.append(x)
    boundaries = boundaries[:1]
    for k in range(layers):
        members = set(best[k])
        leaving = [o for i in best[k] for o in g.nodes[i].output if o in g.data
                   and (o in g.outputs or any(c not in members for c in g.consumers.get(o, ())))]
        if not leaving:
            return None
        boundaries.append(max(leaving, key=g.index))
    if not _ordered(g, boundaries, layers):
        return None
    return Discovery(boundaries=boundaries, method="names")


def _by_structure(g: GraphIndex) -> Discovery | None:
    """Boundaries from the graph alone: residual Adds around each attention Softmax."""
    anchors = [g.nodes[i].output[0] for i in g.attention_softmaxes()]
    if not anchors:
        return None
    layers = len(anchors)
    scores = _score_adds(g, anchors)
    residuals = []   # (skip input x, residual Add index): Add(x, f(x))
    for i, node in enumerate(g.nodes):
        if node.op_type != "Add" or i in scores:
            continue
        ins = g.data_inputs(i)
        if len(ins) != 2 or g.ranks.get(node.output[0]) not in (None, 2, 3):
            continue
        if g.is_ancestor(ins[0], ins[1]):
            residuals.append((g.uncast(ins[0]), i))
        elif g.is_ancestor(ins[1], ins[0]):
            residuals.append((g.uncast(ins[1]), i))
    before = [g.ancestors(a) for a in anchors]
    after = [g.descendants(a) for a in anchors]
    boundaries: list[str] = []
    for k in range(layers):
        # the skip input that enters block k before its Softmax and rejoins after it
        cands = {x for x, r in residuals
                 if x in before[k] and g.nodes[r].output[0] in after[k]
                 and (k == layers - 1 or g.nodes[r].output[0] not in after[k + 1])
                 and (k == 0 or x in after[k - 1])}
        if len(cands) != 1:
            return None
        boundaries.append(cands.pop())
    tail = [r for x, r in residuals if x in after[-1]]
    if not tail:
        return None
    style = "post-ln" if g.is_norm_output(boundaries[1] if layers > 1 else boundaries[0]) else "pre-ln"
    last = g.nodes[max(tail)].output[0]
    if style == "post-ln":
        last = g.norm_after(last) or ""
    boundaries.append(last)
    if not last or not _ordered(g, boundaries, layers):
        return None
    return Discovery(boundaries=boundaries, method="structure", style=style)


def _score_adds(g: GraphIndex, anchors: list[str]) -> set[int]:
    """Adds feeding attention scores without a projection between (masks, position biases)."""
    found: set[int] = set()
    seen: set[str] = set()
    todo = deque(anchors)
    while todo:
        t = todo.popleft()
        i = g.producer.get(t)
        if t in seen or i is None:
            continue
        seen.add(t)
        if g.nodes[i].op_type in _PROJECTIONS:
            continue
        if g.nodes[i].op_type == "Add":
            found.add(i)
        todo.extend(g.data_inputs(i))
    return found


def _attentions(g: GraphIndex, boundaries: list[str]) -> list[str] | None:
    """One attention Softmax output per block: after boundary l and flowing into boundary l+1."""
    softmaxes = [g.nodes[i].output[0] for i in g.attention_softmaxes()]
    found: list[str] = []
    for k in range(len(boundaries) - 1):
        lo, hi = g.index(boundaries[k]), g.index(boundaries[k + 1])
        feeding = g.ancestors(boundaries[k + 1])
        inside = [s for s in softmaxes if lo < g.index(s) < hi and s in feeding]
        if len(inside) != 1:
            return None
        found.append(inside[0])
    return found


def _ordered(g: GraphIndex, boundaries: list[str], layers: int) -> bool:
    positions = [g.index(b) for b in boundaries]
    return len(boundaries) == layers + 1 and positions == sorted(set(positions))


def _infer_types(model: onnx.ModelProto) -> tuple[dict[str, int], dict[str, int]]:
    """Element types and ranks of intermediate tensors, from ONNX shape inference on a weight-free copy."""
    skeleton = onnx.ModelProto(ir_version=model.ir_version)
    skeleton.opset_import.extend(model.opset_import)
    graph = skeleton.graph
    graph.node.extend(model.graph.node)
    graph.input.extend(model.graph.input)
    graph.output.extend(model.graph.output)
    graph.value_info.extend(model.graph.value_info)
    declared = {v.name for v in graph.input}
    # weights as typed inputs: inference needs their types and shapes, never their bytes
    graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                       for t in model.graph.initializer if t.name not in declared)
    types: dict[str, int] = {}
    ranks: dict[str, int] = {}
    try:
        inferred = onnx.shape_inference.infer_shapes(skeleton, strict_mode=False)
    except Exception:  # custom domains or broken shapes: types stay unknown, discovery still runs
        return types, ranks
    for v in (*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input):
        tt = v.type.tensor_type
        if tt.elem_type:
            types[v.name] = tt.elem_type
        if tt.HasField("shape"):
            ranks[v.name] = len(tt.shape.dim)
    return types, ranks


def add_outputs(model: onnx.ModelProto, names: list[str], types: dict[str, int]) -> list[str]:
    """Expose tensors as extra graph outputs of `model` (the adapter's own in-memory copy).

    Returns the names added; graph inputs and existing outputs are already readable.
    """
    existing = {v.name for v in model.graph.output} | {v.name for v in model.graph.input}
    added: list[str] = []
    for name in names:
        if name in existing or name in added:
            continue
        elem = types.get(name, onnx.TensorProto.FLOAT)
        model.graph.output.append(helper.make_tensor_value_info(name, elem, None))
        added.append(name)
    # a stale value_info with a shape would contradict the shapeless output declaration
    keep = [v for v in model.graph.value_info if v.name not in added]
    del model.graph.value_info[:]
    model.graph.value_info.extend(keep)
    return added
