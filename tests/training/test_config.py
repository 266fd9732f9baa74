"""Config validation: unknown keys, wrong types and bad values name the key."""
import pytest

from training.config import apply_overrides, config_from_dict, dump_toml, load_config

TOY = {"kind": "toy"}


@pytest.mark.parametrize("raw, message", [
    ({"model": {"hiden": [64]}}, "unknown key model.hiden"),
    ({"train": {"epoch": 3}}, "unknown key train.epoch"),
    ({"trian": {}}, r"unknown table \[trian\]"),
    ({"model": {"reset": "hard"}}, "model.reset must be one of"),
    ({"model": {"delays": "learnt"}}, "model.delays must be one of"),
    ({"model": {"hidden": []}}, "model.hidden must be a non-empty list"),
    ({"model": {"hidden": [64, 0]}}, "model.hidden must be a list of positive integers"),
    ({"model": {"tau_mem_s": -0.02}}, "model.tau_mem_s must be > 0"),
    ({"model": {"tau_mem_s": [0.01, 0.02, 0.03]}}, "model.tau_mem_s must have 1 or 1 values"),
    ({"model": {"dropout": 1.0}}, "model.dropout must be < 1"),
    ({"model": {"batch_norm": "yes"}}, "model.batch_norm must be true or false"),
    ({"train": {"epochs": 2.5}}, "train.epochs must be an integer"),
    ({"train": {"epochs": True}}, "train.epochs must be an integer"),
    ({"train": {"lr": 0}}, "train.lr must be > 0"),
    ({"train": {"lr": "fast"}}, "train.lr must be a number"),
    ({"data": {"dt_s": 0.0, "kind": "toy"}}, "data.dt_s must be > 0"),
    ({"data": {"kind": "shd", "train": "a.h5"}}, "data.valid is required"),
    ({"data": {"kind": "wav"}}, "data.kind must be one of"),
    ({"model": {"conv_layers": 2}}, "model.conv_layers must be <= the number of hidden layers"),
    ({"model": {"min_delay_steps": 30, "max_delay_steps": 20}}, "model.min_delay_steps must be <= model.max_delay"),
    ({"model": {"min_delay_steps": 1, "delays": "none"}}, "model.min_delay_steps > 0 needs delays"),
    ({"model": {"conv_layers": -1}}, "model.conv_layers must be >= 0"),
    ({"model": {"conv_layers": 1, "conv_kernel": [0]}}, "model.conv_kernel must be a list of positive integers"),
    ({"model": {"conv_layers": 1, "conv_stride": 2}}, "model.conv_stride must be a non-empty list of integers"),
    ({"model": {"hidden": [4, 4, 8], "conv_layers": 2, "conv_dilation": [1, 2, 3]}},
     "model.conv_dilation must have 1 or 2 values"),
])
def test_bad_configs_name_the_key(raw, message):
    raw = {k: dict(v) for k, v in raw.items()}
    raw.setdefault("data", dict(TOY))
    with pytest.raises(ValueError, match=message):
        config_from_dict(raw)


def test_good_config_round_trips_through_toml(tmp_path):
    cfg = config_from_dict({"data": TOY, "model": {"hidden": [32, 16], "tau_mem_s": [0.01, 0.03]},
                            "train": {"epochs": 3, "lr": 2e-3}})
    assert cfg.model.tau_for_layer(1) == 0.03 and cfg.train.lr == 2e-3
    p = tmp_path / "c.toml"
    p.write_text(dump_toml(cfg))
    cfg2, _ = load_config(p)
    assert cfg2 == cfg


def test_int_accepted_for_float_fields():
    cfg = config_from_dict({"data": TOY, "model": {"threshold": 2, "tau_mem_s": 1}})
    assert cfg.model.threshold == 2.0 and isinstance(cfg.model.threshold, float)
    assert cfg.model.tau_mem_s == [1.0]


def test_invalid_toml_and_overrides(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[model\nhidden = 3")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_config(p)
    p.write_text('[data]\nkind = "toy"\n[model]\ndelays = "learned"\n')
    cfg, _ = load_config(p, ["model.delays=none", "train.epochs=4", "model.hidden=[8, 8]"])
    assert cfg.model.delays == "none" and cfg.train.epochs == 4 and cfg.model.hidden == [8, 8]
    with pytest.raises(ValueError, match="unknown key model.delay "):
        load_config(p, ["model.delay=none"])
    with pytest.raises(ValueError, match="section.key=value"):
        apply_overrides({}, ["epochs=3"])


def test_shipped_configs_are_valid_and_say_how_to_make_their_data():
    from pathlib import Path

    from training.config import load_config

    root = Path(__file__).resolve().parents[2] / "training" / "configs"
    files = sorted(root.glob("*.toml"))
    assert {f.stem for f in files} >= {"quick", "digits"}
    for f in files:
        cfg, _ = load_config(f)
        assert cfg.data.kind == "shd"
        # train and valid come from one folder; the test file may come from another (training
        # data made beside existing evaluation files); the comment says how to make each
        folder = str(Path(cfg.data.train).parent)
        assert str(Path(cfg.data.valid).parent) == folder, f
        for folder in sorted({str(Path(getattr(cfg.data, k)).parent) for k in ("train", "test")}):
            assert folder.startswith("data/"), f
            make = {"data/digits8x8": f"python -m training.data.sklearn_digits --out {folder}",
                    "data/synth_counts": f"python -m training.data.channel_counts --src data/synth_quick --out {folder}",
                    }.get(folder, f"axon data synth --out {folder}")
            assert make in f.read_text(), (f, folder)
        # every config learns delays but SPIDE's feedback layer (one plain layer by definition)
        assert (cfg.model.delays == "learned" or cfg.train.method == "spide") and cfg.train.num_threads <= 2
