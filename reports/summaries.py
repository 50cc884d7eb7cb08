"""A check's one-line summary in the reader's language, composed at render time from its stored metrics.

Each check stores an English `summary` built in code from its metrics (auditor/checks/*.py). For
Japanese, the sentence is rebuilt here from the same stored metrics with the same rounding, so audits
stored before this module existed read in Japanese too. A few facts that the check takes from its
evidence rather than its metrics (the label count, the model format, which metrics were flagged) are
read back from the stored English sentence.

Anything not understood (an unknown check, a skipped check with an unknown reason, an error, missing or
malformed metrics) falls back to the stored English sentence; `summary` never raises. The GUI imports
this module: keep it free of reportlab, Qt and the model runtimes.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

SKIPPED_EN = "skipped: "
SKIPPED_JA = "対象外："


def summary(check: dict[str, Any], lang: str) -> str:
    """The check's summary in `lang`: the stored sentence for English, a composed one for Japanese."""
    stored = _stored(check)
    if lang != "ja":
        return stored
    try:
        text = _japanese(check)
    except Exception:  # stored data this module does not understand: show what the check wrote
        return stored
    return text or stored


def reason(check: dict[str, Any], lang: str) -> str:
    """Why a check was skipped (or the error text), without the "skipped: " prefix, in `lang` where known."""
    stored = _stored(check)
    why = stored.removeprefix(SKIPPED_EN)
    # a required check that was skipped is `inconclusive`; its summary keeps the "skipped: " reason
    if lang != "ja" or not isinstance(check, dict) or check.get("status") not in ("skipped", "inconclusive"):
        return why
    try:
        # no closing 。 here: the report's sentence around the reason ends it (and 。 alone on a line looks broken)
        return (_skip_reason_ja(why) or why).removesuffix("。")
    except Exception:
        return why


def _stored(check: Any) -> str:
    try:
        return str(check.get("summary") or "")
    except Exception:
        return ""


def _japanese(check: dict[str, Any]) -> str | None:
    status = check.get("status")
    stored = _stored(check)
    if status == "error":
        return None
    if status == "skipped" or (status == "inconclusive" and stored.startswith(SKIPPED_EN)):
        why = _skip_reason_ja(stored.removeprefix(SKIPPED_EN)) if stored.startswith(SKIPPED_EN) else None
        return SKIPPED_JA + why if why else None
    metrics = check.get("metrics")
    compose = _JA.get(str(check.get("id")))
    if not metrics or not isinstance(metrics, dict) or compose is None:
        return None
    return compose(metrics, stored)


# ----------------------------------------------------------------------------------------------------------
# Splitting a "; "-joined English list of known phrases (skip reasons, integrity notes) into Japanese


Rule = tuple[str, Callable[[re.Match[str]], str]]


def _translate(text: str, rules: list[Rule]) -> list[str] | None:
    """Each "; "-separated phrase of `text` translated by the first rule that matches it whole; None if any
    phrase is unknown. Rules are tried at each position, so a phrase that itself contains "; " still matches."""
    out, pos = [], 0
    compiled = [(re.compile(pattern + r"(?=; |$)"), make) for pattern, make in rules]
    while pos < len(text):
        for pattern, make in compiled:
            found = pattern.match(text, pos)
            if found:
                out.append(make(found))
                pos = found.end()
                break
        else:
            return None
        if text.startswith("; ", pos):
            pos += 2
    return out or None


def _const(ja: str) -> Callable[[re.Match[str]], str]:
    return lambda _m: ja


def _sentences(parts: list[str]) -> str:
    return "".join(p if p.endswith("。") else p + "。" for p in parts)


_SKIP_RULES: list[Rule] = [
    (re.escape("the model exposes no layer-by-layer hidden states (it is not a layered transformer, or its ONNX "
               "layer outputs could not be found; --layer-outputs can name them)"),
     _const("モデルが層ごとの隠れ状態を出力しません（層構造を持つTransformerではないか、ONNXの層出力が見つかりませんでした。"
            "--layer-outputs で指定できます）")),
    (re.escape("the model exposes no attention maps"), _const("モデルがアテンションマップを出力しません")),
    # the adapters' own reasons (auditor/models): a graph that reads neither text nor images, a model without blocks
    (r"(.+?) takes no text or images \(inputs: (.+?)\); no probe can be fed to it, so nothing about its behaviour "
     r"was measured \(this version audits text and image models\)",
     lambda m: f"{m[1]} はテキストも画像も入力に取りません（入力：{m[2]}）。プローブを入力できないため、挙動は何も"
               "測定されていません（この版が監査できるのはテキストと画像のモデルです）"),
    (r"no stack of (\S+) transformer blocks was found in (\w+); this version audits layered transformer models only",
     lambda m: f"{m[2]} に{'' if m[1] == 'numbered' else m[1] + '個の'}Transformerブロックの並びが見つかりませんでした。"
               "この版が監査できるのは層構造を持つTransformerモデルのみです"),
    (re.escape("the model format has no gradients (ONNX runtimes run inference only)"),
     _const("このモデル形式では勾配を得られません（ONNXランタイムは推論のみを実行します）")),
    (re.escape("the model format allows no interventions on activations (ONNX)"),
     _const("このモデル形式では活性値への介入ができません（ONNX）")),
    (re.escape("the model has no output head with predictions"), _const("モデルに予測を出力する出力層がありません")),
    (r"this check holds every layer state in memory and the probe set has (\d+) probes \(limit (\d+)\); use --limit",
     lambda m: f"このチェックはすべての層の状態をメモリに保持しますが、プローブ集合には{m[1]}件のプローブがあります"
               f"（上限{m[2]}件）。--limit を指定してください"),
    (re.escape("no reference model was given (auditor audit MODEL --reference OTHER_FORMAT)"),
     _const("比較する参照モデルが指定されていません（auditor audit MODEL --reference OTHER_FORMAT）")),
    (re.escape("the two models share no comparable output (no final states or logits)"),
     _const("二つのモデルに比較できる共通の出力がありません（最終層の状態もロジットもありません）")),
    (re.escape("the surrogate needs at least 4 probes: some to fit it and others to score it"),
     _const("代理モデルには当てはめ用と評価用を合わせて少なくとも4件のプローブが必要です")),
    (re.escape("no held-out probes reached the surrogate"), _const("代理モデルに届いた検証用プローブがありません")),
    (re.escape("the model adapter cannot run perturbed copies"),
     _const("このモデルのアダプタでは摂動を加えた入力を実行できません")),
    (re.escape("no batch could be perturbed"), _const("摂動を加えられたバッチがありません")),
    (re.escape("no hidden states were captured"), _const("隠れ状態が取得されませんでした")),
    (re.escape("no attention maps were captured"), _const("アテンションマップが取得されませんでした")),
    (re.escape("no sequence has two or more content tokens"), _const("内容トークンを2つ以上含む系列がありません")),
    (re.escape("fewer than two probes were captured"), _const("取得されたプローブが2件未満です")),
    (re.escape("the probe set has no labels and the model produced no predictions"),
     _const("プローブ集合にラベルがなく、モデルも予測を出力しませんでした")),
    (re.escape("the probe set has no labels and the model predicts the same class for every probe, so there is no "
               "task information to trace; give a probe file with a label column"),
     _const("プローブ集合にラベルがなく、モデルはすべてのプローブに同じクラスを予測するため、追跡するタスクの情報がありません。"
            "ラベル列を含むプローブファイルを指定してください")),
    (re.escape("no probe was back-propagated"), _const("逆伝播したプローブがありません")),
    (re.escape("the model has no output head and the probes have no labels (at least two classes) to fit a probe "
               "head on, so there is no task loss"),
     _const("モデルに出力層がなく、プローブにもプローブ用の出力層を当てはめるためのラベル（2クラス以上）がないため、"
            "タスクの損失を定められません")),
    (re.escape("the model format cannot be re-initialised (PyTorch models only)"),
     _const("このモデル形式では重みを再初期化できません（PyTorchモデルのみ対応）")),
    (r"a re-initialised copy of ([\d,]+) parameters would double the memory the audit needs "
     r"\(limit ([\d,]+); template parameter max_parameters\)",
     lambda m: f"パラメータ数{m[1]}のモデルを再初期化した複製を作ると、監査に必要なメモリが倍になります"
               f"（上限{m[2]}、テンプレートのパラメータ max_parameters）"),
    (re.escape("no probe was left to compare (the held-out split is empty)"),
     _const("比較に使えるプローブが残っていません（検証用の分割が空です）")),
    (re.escape("none of the key metrics could be computed on both models"),
     _const("主要な指標のいずれも両方のモデルで計算できませんでした")),
]


def _skip_reason_ja(why: str) -> str | None:
    parts = _translate(why, _SKIP_RULES)
    return _sentences(parts) if parts else None


_NOTE_RULES: list[Rule] = [
    (re.escape("the sha256 covers the .onnx file only, not its external data; audit the folder to hash both"),
     _const("SHA-256は.onnxファイルのみを対象とし、外部データを含みません。両方をハッシュするにはフォルダを監査してください")),
    (re.escape("the model files changed while the audit ran"), _const("監査の実行中にモデルのファイルが変更されました")),
    (r"(\d+) pickle or unsafe weight files? present but not loaded: (.+?)",
     lambda m: f"pickleなどの安全でない重みファイルが{m[1]}個ありますが、読み込んでいません：{m[2]}"),
    (r"mixed floating-point dtypes: (.+?)",
     lambda m: "浮動小数点のデータ型が混在しています：" + re.sub(r" \((\d+) tensors?\)", r"（\1テンソル）", m[1])),
    (r"weights in (\d+) safetensors shards", lambda m: f"重みは{m[1]}個のsafetensorsシャードに分かれています"),
    (r"(\d+) custom operators?: (.+?)", lambda m: f"カスタム演算子が{m[1]}個あります：{m[2]}"),
    (r"(\d+) onnxruntime contrib operators? \(run only on onnxruntime\): (.+?)",
     lambda m: f"onnxruntime独自のcontrib演算子が{m[1]}個あります（onnxruntimeでのみ動作）：{m[2]}"),
    (r"external data files present: (.+?)", lambda m: f"外部データファイルがあります：{m[1]}"),
    (r"ai\.onnx opset (\d+) is below (\d+): LayerNormalization appears decomposed",
     lambda m: f"ai.onnxのopset {m[1]}は{m[2]}未満です。LayerNormalizationが分解されているようです"),
]


# ----------------------------------------------------------------------------------------------------------
# One composer per check: (metrics, stored English summary) -> Japanese sentence, or None to fall back


def _num(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"not a number: {value!r}")
    return float(value)


def _series(value: Any) -> np.ndarray:
    """A per-layer list of numbers as a float array (a stored None, i.e. NaN, must not be silently read)."""
    if not isinstance(value, list) or not value:
        raise TypeError("not a non-empty list")
    return np.array([_num(v) for v in value], dtype=np.float64)


def _layer(i: int) -> str:
    return f"第{i}層"


def _integrity(m: dict[str, Any], stored: str) -> str | None:
    found = re.search(r", format (.*?)(?:; nothing unusual found$|; (.+)$)", stored)
    if not found:
        return None
    fmt, notes = found[1], found[2]
    files = int(_num(m["files"]))
    size = _size_ja(m.get("total_bytes"))
    params = _count_ja(m.get("parameters"))
    text = f"{fmt}形式のファイル{files}個（{size}、{params}）を確認しました。"
    if not notes:
        return text + "異常は見つかりませんでした。"
    parts = _translate(notes, _NOTE_RULES)
    return text + _sentences(parts) if parts else None


def _size_ja(n: Any) -> str:
    if not n:
        return "サイズ不明"
    n = _num(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"計{n:.1f} {unit}" if unit != "bytes" else f"計{int(n)}バイト"
        n /= 1024
    return f"計{n:.1f} GiB"


def _count_ja(n: Any) -> str:
    if n is None:
        return "パラメータ数不明"
    n = _num(n)
    return f"パラメータ数{n / 1e6:.1f}M" if n >= 1e6 else f"パラメータ数{int(n):,}"


def _representation(m: dict[str, Any], _stored: str) -> str:
    update = _series(m["update_ratio"])
    norm = _series(m["norm_growth"])
    big, small = int(np.argmax(update)), int(np.argmin(update))
    return (f"流れを最も大きく変えるのはブロック{big + 1}（更新比{update[big]:.3f}）、最も小さいのはブロック{small + 1}"
            f"（{update[small]:.3f}）です。最終層のノルムは埋め込みのノルムの{norm[-1]:.2f}倍です。")


def _fmt3(value: Any) -> str:
    return "不明" if value is None else f"{_num(value):.3f}"


def _smoothing(m: dict[str, Any], _stored: str) -> str:
    similarity, residual = m["token_similarity"], m["rank_collapse_residual"]
    if not isinstance(similarity, list) or not isinstance(residual, list) or not similarity or not residual:
        return ""
    return (f"トークン類似度は埋め込みで{_fmt3(similarity[0])}、最終層で{_fmt3(similarity[-1])}です。"
            f"最終層のランク崩壊残差は{_fmt3(residual[-1])}です（1 = トークンが完全に区別される、0 = すべて同一）。")


def _pde(m: dict[str, Any], _stored: str) -> str:
    r2 = [_num(v) for v in m["pde_r2"] if v is not None]
    pde, identity = m["pde_cos"], m["identity_cos"]
    if len(pde) != len(identity):
        raise ValueError("pde_cos and identity_cos differ in length")
    beats = sum(_num(p) > _num(i) for p, i in zip(pde, identity, strict=True))
    if r2:
        text = (f"検証用プローブでは、フローによる描像が各層の変化の平均{100 * float(np.mean(r2)):.0f}%を説明し（R²）、"
                f"{len(pde)}ブロック中{beats}ブロックで「変化なし」の基準を上回ります。")
    else:
        text = "各層の変化は測定できないほど小さく、説明すべき流れがありません。"
    kernel, uniform = m.get("kernel_attention_cos"), m.get("uniform_attention_cos")
    if isinstance(kernel, list) and any(v is not None for v in kernel):
        k = float(np.mean(_series(kernel)))
        u = float(np.mean(_series(uniform)))
        text += f"ドリフト拡散核はアテンションとコサイン類似度{k:.2f}で一致します（一様アテンションでは{u:.2f}）。"
    else:
        text += "モデルがアテンションを出力しないため、アテンションの項は利用できません。"
    return text


def _bottleneck(m: dict[str, Any], stored: str) -> str | None:
    accuracy = m["probe_accuracy"][-1]
    if accuracy is not None:
        found = re.match(r"The final layer separates the (\d+) (label groups|classes the model predicts) with "
                         r"\d+% held-out accuracy \(chance (\d+)%\)", stored)
        if not found:
            return None
        classes, what, chance = found[1], found[2], found[3]
        groups = f"{classes}つのラベルグループ" if what == "label groups" else f"モデルが予測する{classes}つのクラス"
        head = f"最終層は{groups}を検証精度{_num(accuracy):.0%}で見分けます（偶然の水準は{chance}%）。"
    else:
        head = "線形プローブを当てはめられませんでした（ラベルごとのプローブが少なすぎます）。"
    bound = [_num(v) if v is not None else 0.0 for v in m["mi_ty_probe_bound"]]
    peak, last = int(np.argmax(bound)), len(bound) - 1
    if bound[peak] <= 0.0:
        where = "タスクの情報について正の下限を与える層はありません。"
    elif bound[last] >= bound[peak] - 1e-9:
        where = "タスクの情報は最終層で最も多くなっています。"
    else:
        where = f"タスクの情報は{_layer(peak)}で最大となり、最終層はその{bound[last] / bound[peak]:.0%}を保っています。"
    agreement = m.get("estimator_trend_agreement")
    if agreement is None:
        trend = "推定法どうしが傾向について一致するかは不明です。"
    elif _num(agreement) >= 0.5:
        trend = "推定法どうしは傾向について一致しています。"
    elif agreement >= 0.0:
        trend = "推定法どうしの傾向の一致は弱いものにとどまります。"
    else:
        trend = "推定法どうしで傾向が一致しないため、慎重に解釈してください。"
    return head + where + trend


def _perturbation(m: dict[str, Any], _stored: str) -> str:
    parts = []
    if m.get("amplification") is not None:
        amp = _series(m["amplification"])
        peak = int(np.argmax(amp[1:])) + 1 if amp.size > 1 else 0
        parts.append(f"埋め込みに加えた小さな押しは、最終層では相対的な大きさが{amp[-1]:.2f}倍になります"
                     f"（最大は{_layer(peak)}の{amp[peak]:.2f}倍、リアプノフ指数はブロックあたり{_num(m['lyapunov']):+.3f}）。")
    if m.get("output_cos") is not None:
        parts.append(f"入力に摂動を加えても、出力は摂動なしの実行に対してコサイン類似度{_num(m['output_cos']):.3f}を保ちます。")
    if m.get("flip_rate") is not None:
        parts.append(f"予測の{100 * _num(m['flip_rate']):.1f}%が変わります。")
    return "".join(parts) or "数値を算出できませんでした。"


def _gradients(m: dict[str, Any], _stored: str) -> str:
    hidden = _series(m["grad_norm_hidden"])
    weakest = int(np.argmin(hidden))
    return (f"勾配ノルムは最終層で{hidden[-1]:.3g}、埋め込みで{hidden[0]:.3g}（最終層の{_num(m['grad_attenuation']):.2f}倍）です。"
            f"層間の最大／最小の比は{_num(m['grad_ratio']):.2f}で、最も弱いのは{_layer(weakest)}です。")


def _attention(m: dict[str, Any], stored: str) -> str | None:
    entropy = np.array(m["entropy"], dtype=np.float64)
    sink = np.array(m["sink_share"], dtype=np.float64)
    text = (f"アテンションの平均エントロピーは{_num(m['mean_entropy']):.2f}です（0 = 1トークンのみ、1 = 一様）。"
            f"アテンションの{100 * float(np.nanmean(sink)):.0f}%が特殊トークン・先頭トークンに向いています。")
    if m.get("redundant_heads") is None:
        return text
    heads, share = int(_num(m["redundant_heads"])), 100 * _num(m["prunable_attention_share"])
    # the rule is not among the metrics: read it back from the English sentence the check stored
    relative = re.search(r" heads have gradient importance below (\S+) x the mean head ", stored)
    if relative:
        return text + (f"アテンションヘッド{entropy.size}個のうち{heads}個は、勾配に基づく重要度が平均的なヘッドの"
                       f"{relative[1]}倍未満です（アテンションFLOPsの{share:.0f}%。取り除いたときの出力への影響は"
                       "測定していません）。")
    if " heads below 1% of total importance " in stored:   # audits stored before the rule was relative to the mean
        return text + (f"アテンションヘッド{entropy.size}個のうち{heads}個は重要度が全体の1%未満です"
                       f"（アテンション計算量の{share:.0f}%）。")
    return None


_METRIC_JA = {"head_importance": "ヘッドの重要度", "entropy": "アテンションのエントロピー",
              "sink_share": "特殊トークンへのアテンションの割合", "grad_norm_hidden": "層出力での勾配",
              "update_ratio": "更新比"}


def _sanity(m: dict[str, Any], stored: str) -> str | None:
    compared = len(m["rank_correlation"])
    flagged_count = int(_num(m["uninformative_metrics"]))
    text = f"重みをランダムに再初期化した複製では、主要指標{compared}個のうち{compared - flagged_count}個が変化します。"
    if not flagged_count:
        return text
    found = re.search(r"; uninformative for this model: (.+)$", stored)
    if not found:
        return None
    names = [n.strip() for n in found[1].split(",")]
    shown = "、".join(f"{_METRIC_JA[n]}（{n}）" if n in _METRIC_JA else n for n in names)
    return text + f"このモデルで学習内容を反映していない指標：{shown}。"


def _parity(m: dict[str, Any], stored: str) -> str | None:
    found = re.search(r"against the (.+?) reference", stored)
    if not found:
        return None
    text = (f"{found[1]}形式の参照モデルに対する出力のコサイン類似度は最小{_num(m['output_cos']):.6f}、"
            f"最大差は{_num(m['max_abs_diff']):.3g}")
    if m.get("prediction_agreement") is not None:
        text += f"、予測の一致率は{100 * _num(m['prediction_agreement']):.1f}%"
    return text + "です。"


_JA: dict[str, Callable[[dict[str, Any], str], str | None]] = {
    "artifact.integrity": _integrity,
    "flow.representation": _representation,
    "flow.smoothing": _smoothing,
    "flow.pde": _pde,
    "bottleneck.information_plane": _bottleneck,
    "perturbation.sensitivity": _perturbation,
    "gradients.flow": _gradients,
    "attention.structure": _attention,
    "sanity.randomization": _sanity,
    "artifact.parity": _parity,
}
