"""The per-layer conversion report: op chosen, weight bytes before/after, sparsity, totals.

Weight bytes are what the `.tflite` file stores for a layer's constant tensors: int8 weights +
int32 bias for a builtin op; bitmask + sign bytes + int32 bias for an sbtf op. For a model whose
layers all have a bias (BatchNorm folds into one), they equal `sbtf.summary`'s `int8_bytes` /
`sbtf_bytes` (`sbtf.int8_bytes` / `sbtf.signed_binary_bytes`, the one place of that formula).
"""

from __future__ import annotations

import dataclasses
import json


@dataclasses.dataclass
class LayerReport:
    """One CONV_2D / FULLY_CONNECTED / DEPTHWISE_CONV_2D operator of the converted model.

    layer: the Keras layer it came from (from TFLite's tensor names), None when unknown.
    signed_binary: the layer is a re-encoding candidate (signed-binary in Keras, or with
        `detect="weights"` an op whose int8 weights are signed-binary).
    op: the operator in the output file (`SBTF_CONV_2D`, `CONV_2D`, ...).
    reason: why a candidate stayed a builtin op; None otherwise.
    sparsity: fraction of zero int8 weights.
    """

    subgraph: int
    operator: int
    builtin: str
    layer: str | None
    signed_binary: bool
    op: str
    c_out: int
    k: int
    bias: bool
    sparsity: float
    bytes_before: int
    bytes_after: int
    reason: str | None = None


@dataclasses.dataclass
class ConversionReport:
    """Rows for every conv / fully-connected operator, plus file sizes and totals."""

    layers: list[LayerReport]
    file_bytes_int8: int
    file_bytes: int
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def bytes_before(self) -> int:
        return sum(r.bytes_before for r in self.layers)

    @property
    def bytes_after(self) -> int:
        return sum(r.bytes_after for r in self.layers)

    @property
    def reencoded(self) -> list[LayerReport]:
        return [r for r in self.layers if r.op != r.builtin]

    def to_dict(self) -> dict:
        return {
            "layers": [dataclasses.asdict(r) for r in self.layers],
            "totals": {
                "weight_bytes_int8": self.bytes_before,
                "weight_bytes": self.bytes_after,
                "file_bytes_int8": self.file_bytes_int8,
                "file_bytes": self.file_bytes,
                "reencoded_ops": len(self.reencoded),
                "ops": len(self.layers),
            },
            "warnings": list(self.warnings),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def __str__(self) -> str:
        header = ("#", "layer", "TFLite op", "C_out", "K", "bias", "sparsity", "int8 B", "sbtf B")
        rows, notes = [], []
        for r in self.layers:
            sparsity = f"{r.sparsity:.1%}" if r.signed_binary else ""
            op = r.op
            if r.reason:  # the reason goes below the table, which stays narrow
                notes.append(f"[{len(notes) + 1}] {r.layer or '?'} (operator {r.operator}) kept "
                             f"as {r.op}: {r.reason}")
                op += f" [{len(notes)}]"
            rows.append(
                (
                    str(r.operator),
                    r.layer or "?",
                    op,
                    str(r.c_out),
                    str(r.k),
                    "yes" if r.bias else "no",
                    sparsity,
                    str(r.bytes_before),
                    str(r.bytes_after),
                )
            )
        total = ("", "Total", "", "", "", "", "", str(self.bytes_before), str(self.bytes_after))
        widths = [max(len(row[i]) for row in [header, *rows, total]) for i in range(len(header))]

        def fmt(row):
            cells = [
                c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))
            ]
            return "| " + " | ".join(cells) + " |"

        rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
        lines = [rule, fmt(header), rule, *map(fmt, rows), rule, fmt(total), rule, *notes]
        ratio = self.bytes_before / self.bytes_after if self.bytes_after else float("nan")
        lines.append(
            f"{len(self.reencoded)} of {len(self.layers)} conv/FC ops re-encoded; weights "
            f"{self.bytes_before} -> {self.bytes_after} B ({ratio:.2f}x); file "
            f"{self.file_bytes_int8} -> {self.file_bytes} B."
        )
        return "\n".join(lines)
