"""Validates OCSF Detection Findings (JSON Lines on stdin) with py-ocsf-models' DetectionFinding.

Beyond the model's own checks (required attributes, types, enumerations), every attribute the
finding carries must be one the model knows, at every depth (pydantic would otherwise ignore it):
only `unmapped` may hold what OCSF has no attribute for. Prints one line per problem; exit 1 if any.
"""
import json
import sys

from pydantic import BaseModel
from py_ocsf_models.events.findings.detection_finding import DetectionFinding


def unknown(data, model, path):
    """Attributes of `data` that the validated `model` does not hold."""
    out = []
    if isinstance(model, BaseModel) and isinstance(data, dict):
        known = type(model).model_fields
        for k, v in data.items():
            if path == "" and k == "unmapped":
                continue
            if k not in known:
                out.append(f"{path}{k}")
                continue
            out.extend(unknown(v, getattr(model, k), f"{path}{k}."))
    elif isinstance(model, list) and isinstance(data, list):
        for i, (d, m) in enumerate(zip(data, model)):
            out.extend(unknown(d, m, f"{path}[{i}]."))
    return out


problems = 0
count = 0
for n, line in enumerate(sys.stdin, 1):
    if not line.strip():
        continue
    count += 1
    data = json.loads(line)
    try:
        model = DetectionFinding.model_validate(data)
    except Exception as e:  # pydantic's ValidationError, printed whole
        print(f"finding {n}: {e}")
        problems += 1
        continue
    for k in unknown(data, model, ""):
        print(f"finding {n}: attribute {k} is not in OCSF's Detection Finding")
        problems += 1
    if model.class_uid != 2004 or model.type_uid != 200401:
        print(f"finding {n}: class_uid {model.class_uid} type_uid {model.type_uid}")
        problems += 1
print(f"{count} findings checked, {problems} problems")
sys.exit(1 if problems or count == 0 else 0)
