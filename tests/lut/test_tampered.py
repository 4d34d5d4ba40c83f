"""Tampered LUT files are refused in one line: by CellLUT.load, `neat fit` and `neat map`.

Each case starts from a small valid LUT (tests/lut_factory.py) and changes one thing the way a
hand-edited or hostile file would: wrong kinds of objects, types, shapes, non-finite or negative
values, data stored in another file. Loading must answer with one LUTError line (exit code 2 on
the command line), read nothing from elsewhere and change no file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from lut_factory import ideal, write_lut

from neatxbar.cli.main import cli
from neatxbar.lut import CellLUT, LUTError
from neatxbar.lut.schema import MAX_OBJECTS, MAX_POINTS
from neatxbar.training.checkpoint import save_checkpoint
from neatxbar.training.models import build_model

Tamper = Callable[[h5py.File, Path], None]


def _replace(f: h5py.File, name: str, **kwargs: object) -> None:
    del f[name]
    f.create_dataset(name, **kwargs)


def _current_as_group(f: h5py.File, root: Path) -> None:
    del f["current"]
    f.create_group("current")


def _no_g_max(f: h5py.File, root: Path) -> None:
    del f["linear_region/g_max"]


def _string_grid(f: h5py.File, root: Path) -> None:
    n = f["grid/v_in"].size
    _replace(f, "grid/v_in", data=[f"{i}" for i in range(n)], dtype=h5py.string_dtype())


def _nan_in_grid(f: h5py.File, root: Path) -> None:
    f["grid/conductance"][4] = np.nan  # `not (diff <= 0).any()` lets this through


def _inf_in_grid(f: h5py.File, root: Path) -> None:
    f["grid/v_gate"][-1] = np.inf


def _huge_current_shape(f: h5py.File, root: Path) -> None:
    _replace(f, "current", shape=(10**6, 10**6, 13), dtype="f8", chunks=(1, 1, 13))


def _huge_grids(f: h5py.File, root: Path) -> None:
    # consistent shapes, but 10^4 x 10^4 x 13 points: over the limit, refused before reading
    n = 10**4
    _replace(f, "grid/conductance", data=np.linspace(1e-6, 1e-4, n))
    _replace(f, "grid/v_in", data=np.linspace(0.0, 0.5, n))
    for name, dtype in (("current", "f8"), ("status", "u1")):
        _replace(f, name, shape=(n, n, 13), dtype=dtype, chunks=(1, 1, 13))


def _huge_declared_grid(f: h5py.File, root: Path) -> None:
    _replace(f, "grid/v_gate", shape=(2**40,), dtype="f8", chunks=(1024,))


def _int32_current(f: h5py.File, root: Path) -> None:
    current = f["current"][()]
    _replace(f, "current", data=(current * 1e9).astype(np.int32))


def _float32_current(f: h5py.File, root: Path) -> None:
    current = f["current"][()]
    _replace(f, "current", data=current.astype(np.float32))


def _negated_current(f: h5py.File, root: Path) -> None:
    f["current"][...] = -f["current"][()]  # gave -194.5 pJ energies


def _nan_current(f: h5py.File, root: Path) -> None:
    f["current"][0, 0, 2, 3, 4] = np.nan


def _inf_current(f: h5py.File, root: Path) -> None:
    f["current"][0, 0, 2, 3, 4] = np.inf


def _negative_conductances(f: h5py.File, root: Path) -> None:
    f["grid/conductance"][...] = f["grid/conductance"][()] - 2e-5


def _zero_conductance(f: h5py.File, root: Path) -> None:
    f["grid/conductance"][0] = 0.0


def _nan_g_max(f: h5py.File, root: Path) -> None:
    f["linear_region/g_max"][0, 0] = np.nan


def _nan_w_max(f: h5py.File, root: Path) -> None:
    f["linear_region/w_max"][0, 1] = np.nan


def _w_max_above_one(f: h5py.File, root: Path) -> None:
    f["linear_region/w_max"][0, 1] = 3.0


def _int_status(f: h5py.File, root: Path) -> None:
    _replace(f, "status", data=np.zeros(f["status"].shape, dtype=np.int64))


def _external_storage(f: h5py.File, root: Path) -> None:
    """`current` stored in another file's bytes (here: plausible positive currents)."""
    current = f["current"][()]
    raw = root / "elsewhere.bin"
    raw.write_bytes(np.abs(current).astype("<f8").tobytes())
    del f["current"]
    f.create_dataset(
        "current", shape=current.shape, dtype="<f8", external=[(str(raw), 0, current.nbytes)]
    )


def _virtual_dataset(f: h5py.File, root: Path) -> None:
    current = f["current"][()]
    other = root / "other.h5"
    with h5py.File(other, "w") as g:
        g.create_dataset("data", data=current)
    layout = h5py.VirtualLayout(shape=current.shape, dtype="f8")
    layout[...] = h5py.VirtualSource(str(other), "data", shape=current.shape)
    del f["current"]
    f.create_virtual_dataset("current", layout)


def _external_link(f: h5py.File, root: Path) -> None:
    current = f["current"][()]
    other = root / "linked.h5"
    with h5py.File(other, "w") as g:
        g.create_dataset("current", data=current)
    del f["current"]
    f["current"] = h5py.ExternalLink(str(other), "/current")


def _soft_link(f: h5py.File, root: Path) -> None:
    f.create_dataset("copy", data=f["current"][()])
    del f["current"]
    f["current"] = h5py.SoftLink("/copy")


def _link_loop(f: h5py.File, root: Path) -> None:
    f["grid/loop"] = f["grid"]  # a hard link to its own group: the walk must end


def _many_objects(f: h5py.File, root: Path) -> None:
    for i in range(MAX_OBJECTS + 1):
        f.create_group(f"junk/{i}")


def _tolerance_text(f: h5py.File, root: Path) -> None:
    f.attrs["tolerance"] = "0.025"


def _tolerance_nan(f: h5py.File, root: Path) -> None:
    f.attrs["tolerance"] = np.nan


def _transistor_not_json(f: h5py.File, root: Path) -> None:
    f.attrs["transistor"] = "{not json"


def _transistor_nan_width(f: h5py.File, root: Path) -> None:
    f.attrs["transistor"] = '{"w_m": NaN, "l_m": 4.5e-08}'


def _transistor_deep(f: h5py.File, root: Path) -> None:
    f.attrs["transistor"] = "[" * 100_000 + "]" * 100_000


def _read_time_nan(f: h5py.File, root: Path) -> None:
    data = f.create_dataset("energy/read_energy", data=f["current"][()] * 0.0)
    data.attrs["read_time_s"] = np.nan


def _spec_not_text(f: h5py.File, root: Path) -> None:
    f.attrs["spec"] = np.arange(3)


# --- the axes of neat-lut/2 ----------------------------------------------------------------


def _nan_temperature(f: h5py.File, root: Path) -> None:
    f["grid/temperature_c"][0] = np.nan


def _temperature_below_absolute_zero(f: h5py.File, root: Path) -> None:
    f["grid/temperature_c"][0] = -300.0


def _delvto_without_zero(f: h5py.File, root: Path) -> None:
    f["grid/delvto"][...] = f["grid/delvto"][()] + 1e-3


def _delvto_decreasing(f: h5py.File, root: Path) -> None:
    f["grid/delvto"][...] = f["grid/delvto"][()][::-1]


def _delvto_of_volts(f: h5py.File, root: Path) -> None:
    f["grid/delvto"][...] = f["grid/delvto"][()] * 1e3  # mV stored as V: 10 V shifts


def _string_temperatures(f: h5py.File, root: Path) -> None:
    _replace(f, "grid/temperature_c", data=["27", "85"], dtype=h5py.string_dtype())


def _current_without_axes(f: h5py.File, root: Path) -> None:
    _replace(f, "current", data=f["current"][0, 1])  # the v1 shape in a v2 file


def _status_without_axes(f: h5py.File, root: Path) -> None:
    _replace(f, "status", data=f["status"][0, 1])


def _g_max_without_temperature(f: h5py.File, root: Path) -> None:
    _replace(f, "linear_region/g_max", data=f["linear_region/g_max"][0])


def _energy_without_axes(f: h5py.File, root: Path) -> None:
    data = f.create_dataset("energy/read_energy", data=f["current"][0, 0] * 1e-8)
    data.attrs["read_time_s"] = 1e-8


def _huge_declared_delvto(f: h5py.File, root: Path) -> None:
    _replace(f, "grid/delvto", shape=(2**40,), dtype="f8", chunks=(1024,))


def _sigma_vt_nan(f: h5py.File, root: Path) -> None:
    f.attrs["sigma_vt_v"] = np.nan


def _sigma_vt_negative(f: h5py.File, root: Path) -> None:
    f.attrs["sigma_vt_v"] = -0.01


def _sigma_vt_missing(f: h5py.File, root: Path) -> None:
    del f.attrs["sigma_vt_v"]


def _unknown_schema(f: h5py.File, root: Path) -> None:
    f.attrs["schema"] = "neat-lut/3"


def _v1_with_axes(f: h5py.File, root: Path) -> None:
    f.attrs["schema"] = "neat-lut/1"  # a v1 file has 3-D tables: these 5-D ones are refused


TAMPERED: dict[str, Tamper] = {
    "current is a group": _current_as_group,
    "linear_region/g_max missing": _no_g_max,
    "a grid of strings": _string_grid,
    "NaN in a grid": _nan_in_grid,
    "inf in a grid": _inf_in_grid,
    "a huge declared current shape": _huge_current_shape,
    "grids over the size limit": _huge_grids,
    "a huge declared grid": _huge_declared_grid,
    "int32 currents": _int32_current,
    "float32 currents": _float32_current,
    "negated currents": _negated_current,
    "NaN current": _nan_current,
    "inf current": _inf_current,
    "negative conductances": _negative_conductances,
    "a zero conductance": _zero_conductance,
    "NaN in g_max": _nan_g_max,
    "NaN in w_max": _nan_w_max,
    "w_max above 1": _w_max_above_one,
    "int64 status": _int_status,
    "external storage": _external_storage,
    "a virtual dataset": _virtual_dataset,
    "an external link": _external_link,
    "a soft link": _soft_link,
    "a hard-link loop": _link_loop,
    "too many objects": _many_objects,
    "tolerance as text": _tolerance_text,
    "tolerance NaN": _tolerance_nan,
    "transistor not JSON": _transistor_not_json,
    "transistor width NaN": _transistor_nan_width,
    "transistor nested deep": _transistor_deep,
    "read time NaN": _read_time_nan,
    "spec not text": _spec_not_text,
    "NaN temperature": _nan_temperature,
    "temperature below absolute zero": _temperature_below_absolute_zero,
    "delvto without 0 V": _delvto_without_zero,
    "delvto decreasing": _delvto_decreasing,
    "delvto of 10 V": _delvto_of_volts,
    "temperatures as strings": _string_temperatures,
    "current without the axes": _current_without_axes,
    "status without the axes": _status_without_axes,
    "g_max without the temperature axis": _g_max_without_temperature,
    "read energy without the axes": _energy_without_axes,
    "a huge declared delvto grid": _huge_declared_delvto,
    "sigma_vt NaN": _sigma_vt_nan,
    "sigma_vt negative": _sigma_vt_negative,
    "sigma_vt missing": _sigma_vt_missing,
    "an unknown schema": _unknown_schema,
    "schema 1 with the axes": _v1_with_axes,
}


def _shifted(t: np.ndarray, d: np.ndarray, g: np.ndarray, v: np.ndarray, vg: np.ndarray):
    """A plausible table with axes: the ideal current, lowered by a shift and by heat."""
    return g * v * (1 - 0.5 * d - 1e-4 * (t - 27)) + 0 * vg


def _tampered(root: Path, case: str) -> Path:
    axes = {"temperature_c": np.array([27.0, 85.0]), "delvto": np.array([-0.01, 0.0, 0.01])}
    path = write_lut(root / "tampered.h5", _shifted, **axes, sigma_vt_v=5e-3)
    with h5py.File(path, "r+") as f:
        TAMPERED[case](f, root)
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line_exit_2(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained digits MLP: `neat map` gets as far as loading the LUT."""
    shape = {"num_classes": 10, "in_channels": 1, "image_size": 8}
    out = tmp_path_factory.mktemp("ckpt") / "mlp.pt"
    return save_checkpoint(
        out, build_model("mlp", **shape), {"model": "mlp", "dataset": "digits", **shape}
    )


def test_the_untampered_file_loads(tmp_path: Path) -> None:
    lut = CellLUT.load(write_lut(tmp_path / "fine.h5", ideal))
    assert lut.table.shape == (9, 11, 13) and lut.transistor == {}
    axes = {"temperature_c": np.array([27.0, 85.0]), "delvto": np.array([-0.01, 0.0, 0.01])}
    lut = CellLUT.load(write_lut(tmp_path / "axes.h5", _shifted, **axes, sigma_vt_v=5e-3))
    assert lut.shift_table.shape == (3, 9, 11, 13) and lut.sigma_vt_v == 5e-3


@pytest.mark.parametrize("case", list(TAMPERED))
def test_cell_lut_load_refuses_in_one_line(tmp_path: Path, case: str) -> None:
    path = _tampered(tmp_path, case)
    with pytest.raises(LUTError) as caught:
        CellLUT.load(path)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400, message


@pytest.mark.parametrize("case", list(TAMPERED))
def test_neat_fit_refuses_and_changes_nothing(tmp_path: Path, case: str) -> None:
    path = _tampered(tmp_path, case)
    before = _digest(path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert str(path) in _one_line_exit_2(["fit", str(path), "--json"])
    assert _digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == files  # no copy left behind


@pytest.mark.parametrize("case", list(TAMPERED))
def test_neat_map_refuses_in_one_line(tmp_path: Path, case: str, checkpoint: Path) -> None:
    path = _tampered(tmp_path, case)
    line = _one_line_exit_2(
        [
            "map",
            "--no-progress",
            "--checkpoint",
            str(checkpoint),
            "--lut",
            str(path),
            "--out",
            str(tmp_path / "report"),
        ]
    )
    assert str(path) in line  # refused for the LUT, not for something else
    assert not (tmp_path / "report").exists()


def test_refusals_happen_before_reading_the_data(tmp_path: Path) -> None:
    # 10^12 declared values would need 8 TB: refused on the declared shape alone
    with pytest.raises(LUTError, match="shape"):
        CellLUT.load(_tampered(tmp_path, "a huge declared current shape"))
    with pytest.raises(LUTError, match=f"limit of {MAX_POINTS}"):
        CellLUT.load(_tampered(tmp_path, "grids over the size limit"))


def test_data_from_another_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(LUTError, match="stored outside the file"):
        CellLUT.load(_tampered(tmp_path, "external storage"))
    with pytest.raises(LUTError, match="external link"):
        CellLUT.load(_tampered(tmp_path, "an external link"))


def test_solver_noise_around_zero_is_not_a_negative_current(tmp_path: Path) -> None:
    noisy = lambda g, v, vg: g * v + 0 * vg - 3e-20 * (v == 0)  # noqa: E731
    lut = CellLUT.load(write_lut(tmp_path / "noise.h5", noisy))
    assert float(lut.table.min()) == pytest.approx(-3e-20)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_gate_voltage_lookups_refuse_non_finite_values(linear_lut: CellLUT, bad: float) -> None:
    with pytest.raises(LUTError, match="V_gate"):
        linear_lut.gate_index(bad)  # NaN used to give index 0 (0.70 V)
    with pytest.raises(LUTError, match="V_gate"):
        linear_lut.gate_slice(bad)
    with pytest.raises(LUTError, match="V_gate"):
        linear_lut.separable(bad)
    with pytest.raises(LUTError, match="V_gate"):
        linear_lut.current(1e-5, 0.1, bad, extrapolate="clamp")
    with pytest.raises(LUTError, match="V_gate"):
        linear_lut.gate_index(torch.tensor(bad))


def test_check_range_refuses_nan_queries(linear_lut: CellLUT) -> None:
    with pytest.raises(LUTError, match="v_gate holds NaN"):
        linear_lut.current(1e-5, 0.1, torch.tensor([1.0, float("nan")]))
    with pytest.raises(LUTError, match="g holds NaN"):
        linear_lut.current(torch.tensor([float("nan")]), 0.1, 1.0)
