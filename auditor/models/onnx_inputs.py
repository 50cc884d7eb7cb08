"""Which ONNX graph inputs probes can fill, and what to tell the user about the rest.

Probes are texts or images. A graph reads them through token inputs (input_ids and the
tensors a tokenizer or the adapter makes beside them) or one image tensor. A graph whose
inputs are something else (byte histograms, audio frames with a recurrent state) cannot be
fed at all: the audit then measures the file only and says so. A text or image graph with
an extra input probes cannot fill (a decoder's decoder_input_ids, past key values) is
refused when it loads, before any audit row exists.
"""
from __future__ import annotations

from typing import Any

import onnx

from auditor.errors import BadInput
from auditor.messages import Message

# the inputs a tokenizer gives or the adapter builds from them (OnnxAdapter._feed)
TEXT_INPUTS = frozenset({"input_ids", "attention_mask", "token_type_ids", "position_ids"})
_ENCODER_SIDE = ("encoder_hidden_states", "encoder_attention_mask", "encoder_outputs")

Inputs = dict[str, tuple[int, list[int | str]]]   # name -> (element type, dims)


def signature(inputs: Inputs) -> str:
    """'input float32[batch,64], state float32[1,batch,16]': what the graph reads, for messages."""
    parts = []
    for name, (elem, dims) in inputs.items():
        dtype = _dtype_name(elem)
        parts.append(f"{name} {dtype}[{','.join(str(d) if d not in ('', 0) else '?' for d in dims)}]")
    return ", ".join(parts)


def unfillable(inputs: Inputs, modality: str, image_input: str | None) -> list[str]:
    """Graph inputs that cannot be built from probes of the graph's own modality."""
    if modality == "text":
        return [n for n in inputs if n not in TEXT_INPUTS]
    if modality == "image":
        return [n for n in inputs if n != image_input]
    return list(inputs)


def refuse_unfeedable(file_name: str, inputs: Inputs, modality: str, image_input: str | None,
                      layer_outputs: list[str] | None) -> Message | None:
    """BadInput for a graph probes could reach only in part; the reason nothing can be fed, or None.

    A text or image graph with an extra input would fail on its first batch, after the audit
    row exists, so it is refused here. A graph that reads neither text nor images is audited
    as a file only (the returned reason), unless --layer-outputs asks to measure inside it.
    """
    missing = unfillable(inputs, modality, image_input)
    if modality in ("text", "image"):
        if not missing:
            return None
        if any(n.startswith("decoder_") for n in missing):
            raise BadInput(f"{file_name} is an encoder-decoder graph (it needs {_names(missing)}); this version "
                           "audits encoder-only and decoder-only models: export the encoder alone (e.g. "
                           "optimum's encoder_model.onnx) and audit that")
        if any(n in _ENCODER_SIDE for n in missing):
            raise BadInput(f"{file_name} is the decoder of an encoder-decoder model (it needs {_names(missing)}); "
                           "this version audits encoder-only and decoder-only models: audit the encoder's graph")
        raise BadInput(f"{file_name} needs {_names(missing)}, which cannot be built from probes; export the "
                       "model without it (e.g. without past key values or recurrent state)")
    reads = f"{file_name} takes no text or images (inputs: {signature(inputs)})"
    if layer_outputs:
        raise BadInput(f"--layer-outputs cannot help here: {reads}, so no probe can reach its layers "
                       "(this version audits text and image models)")
    return Message("adapter.onnx.unfed", {"file": file_name, "inputs": signature(inputs)})


def unavailable_reasons(discovery: Any, unfed: Message | None) -> dict[str, Message]:
    """Why each capability the graph lacks is missing, naming the way out (capability value -> reason)."""
    if unfed:
        return {"hidden_states": unfed, "attentions": unfed, "logits": unfed}
    reasons = list(discovery.reasons)
    why = reasons[0] if len(reasons) == 1 else Message("adapter.onnx.reasons", {"reasons": reasons}) \
        if reasons else Message("adapter.onnx.boundaries_not_found")
    if not discovery.boundaries:
        return {"hidden_states": why, "attentions": why}
    if not discovery.attentions:
        return {"attentions": why}
    return {}


def patch_size(index: Any, image_input: str | None) -> int | None:
    """The stride of a patch-embedding Conv reading the image (kernel == stride), if there is one."""
    for i in index.consumers.get(image_input or "", ()):
        node = index.nodes[i]
        if node.op_type != "Conv":
            continue
        attrs = {a.name: list(a.ints) for a in node.attribute}
        kernel, strides = attrs.get("kernel_shape"), attrs.get("strides")
        if kernel and kernel == strides and kernel[0] > 1:
            return int(kernel[0])
    return None


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"the input{'s' if len(names) > 1 else ''} {shown}"


def _dtype_name(elem: int) -> str:
    try:
        name = onnx.TensorProto.DataType.Name(elem)
    except ValueError:
        return f"type{elem}"
    return {"FLOAT": "float32", "DOUBLE": "float64", "FLOAT16": "float16"}.get(name, name.lower())
