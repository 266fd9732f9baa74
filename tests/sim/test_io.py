"""Model and event files: round trips, format version, and clear errors on bad files."""
import h5py
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sim import Events
from sim.engines.exact import ExactSimulator
from sim.model.io import FORMAT_VERSION, MODEL_FORMAT_VERSION, load_events, load_network, save_events, save_network
from tests.reference.random_networks import random_events, random_network


def _net(seed=3):
    rng = np.random.default_rng(seed)
    net = random_network(rng, lateral=True, drive=True, readout=True)
    net.metadata["frontend"] = {"n_channels": 4, "sample_rate_hz": 16000}
    return net


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_save_load_round_trip_gives_the_same_network(tmp_path_factory, seed):
    rng = np.random.default_rng(seed)
    net = random_network(rng)
    path = tmp_path_factory.mktemp("io") / "m.h5"
    save_network(path, net)
    back = load_network(path)
    assert back == net
    assert [l.name for l in back.layers] == [l.name for l in net.layers]
    for p, q in zip(net.projections, back.projections):
        np.testing.assert_array_equal(p.delay_s, q.delay_s)
        np.testing.assert_array_equal(p.weight, q.weight)


def test_loaded_network_simulates_identically(tmp_path):
    net = _net()
    ev = random_events(np.random.default_rng(1), net.n_inputs, 0.1)
    save_network(tmp_path / "m.h5", net)
    a = ExactSimulator(net).run(0.1, events=ev)
    b = ExactSimulator(load_network(tmp_path / "m.h5")).run(0.1, events=ev)
    np.testing.assert_array_equal(a.spike_times_s, b.spike_times_s)
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)


def test_metadata_and_delay_steps_survive(tmp_path):
    from sim import LIFLayer, Network, Projection
    p = Projection.dense("input", "h", np.ones((2, 3)), np.full((2, 3), 0.004), delay_steps=np.full((2, 3), 4), dt_s=1e-3)
    net = Network(3, [LIFLayer("h", 2, 0.02)], [p], metadata={"provenance": {"accuracy": 0.9}})
    save_network(tmp_path / "m.h5", net)
    back = load_network(tmp_path / "m.h5")
    assert back.metadata == {"provenance": {"accuracy": 0.9}}
    assert back.projections[0].dt_s == 1e-3
    np.testing.assert_array_equal(back.projections[0].delay_steps, np.full(6, 4))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        load_network(tmp_path / "nope.h5")
    with pytest.raises(ValueError, match="is a directory"):
        load_network(tmp_path)


def test_truncated_file_fails_clearly(tmp_path):
    save_network(tmp_path / "m.h5", _net())
    data = (tmp_path / "m.h5").read_bytes()
    (tmp_path / "t.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="t.h5"):
        load_network(tmp_path / "t.h5")


def test_not_hdf5_fails_clearly(tmp_path):
    (tmp_path / "x.h5").write_text("hello")
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        load_network(tmp_path / "x.h5")


def _tamper(path, fn):
    with h5py.File(path, "r+") as f:
        fn(f)


@pytest.mark.parametrize("tamper, message", [
    (lambda f: f.attrs.__setitem__("format_version", MODEL_FORMAT_VERSION + 1), "format_version 3 is not supported"),
    (lambda f: f.attrs.__delitem__("format_version"), "missing attribute 'format_version'"),
    (lambda f: f.attrs.__setitem__("format", "something.else"), "format is 'something.else'"),
    (lambda f: f.attrs.__delitem__("n_inputs"), "missing attribute 'n_inputs'"),
    (lambda f: f.__delitem__("projections/0000/weight"), "missing dataset 'projections/0000/weight'"),
    (lambda f: f.__delitem__("layers/l0/tau_mem_s"), "missing dataset 'layers/l0/tau_mem_s'"),
    (lambda f: f.__delitem__("layers/l0"), "group 'layers' holds"),
    (lambda f: f["layers/l0"].attrs.__setitem__("size", 99), "layer 'l0'"),
    (lambda f: f["layers/l0"].attrs.__setitem__("reset", "bounce"), "reset must be one of"),
    (lambda f: (f.__delitem__("projections/0000/weight"),
                f["projections/0000"].create_dataset("weight", data=np.ones(1))), "weight has 1 entries"),
    (lambda f: (f.__delitem__("projections/0000/delay_s"),
                f["projections/0000"].create_dataset("delay_s", data=-np.ones(f["projections/0000/pre_idx"].shape))),
     "delay_s must be >= 0"),
    (lambda f: f.attrs.__setitem__("metadata", "{not json"), "not valid JSON"),
])
def test_inconsistent_model_files_name_the_field(tmp_path, tamper, message):
    path = tmp_path / "m.h5"
    save_network(path, _net())
    _tamper(path, tamper)
    with pytest.raises(ValueError, match=message):
        load_network(path)


def test_events_round_trip_and_errors(tmp_path):
    ev = Events([0.0, 0.001, 0.001, 0.5], [2, 0, 1, 2], [1.0, -1.0, 2.0, 1.0])
    save_events(tmp_path / "e.h5", ev, n_channels=3)
    back = load_events(tmp_path / "e.h5")
    np.testing.assert_array_equal(back.times_s, ev.times_s)
    np.testing.assert_array_equal(back.channels, ev.channels)
    np.testing.assert_array_equal(back.values, ev.values)
    with pytest.raises(ValueError, match="channel"):
        save_events(tmp_path / "bad.h5", ev, n_channels=2)
    _tamper(tmp_path / "e.h5", lambda f: (f.__delitem__("events/times_s"),
                                          f["events"].create_dataset("times_s", data=[0.5, 0.0, 0.1, 0.2])))
    with pytest.raises(ValueError, match="sorted"):
        load_events(tmp_path / "e.h5")
    save_network(tmp_path / "m.h5", _net())
    with pytest.raises(ValueError, match="format is 'axon.model', expected 'axon.events'"):
        load_events(tmp_path / "m.h5")


def test_events_from_an_shd_format_file(tmp_path):
    vlen_f = h5py.vlen_dtype(np.float32)
    vlen_u = h5py.vlen_dtype(np.uint16)
    with h5py.File(tmp_path / "shd.h5", "w") as f:
        g = f.create_group("spikes")
        t = g.create_dataset("times", (2,), dtype=vlen_f)
        u = g.create_dataset("units", (2,), dtype=vlen_u)
        t[0] = np.array([0.01, 0.02, 0.02], np.float32)
        u[0] = np.array([5, 1, 1], np.uint16)
        t[1] = np.array([0.5], np.float32)
        u[1] = np.array([3], np.uint16)
        f.create_dataset("labels", data=[4, 7])
    ev = load_events(tmp_path / "shd.h5", sample=0)
    # The two spikes of unit 1 at 20 ms are merged into one event of value 2.
    np.testing.assert_array_equal(ev.channels, [5, 1])
    np.testing.assert_array_equal(ev.values, [1.0, 2.0])
    with pytest.raises(ValueError, match="holds 2 samples"):
        load_events(tmp_path / "shd.h5")
    with pytest.raises(ValueError, match="out of range"):
        load_events(tmp_path / "shd.h5", sample=2)


def test_save_is_atomic_and_rejects_bad_metadata(tmp_path):
    from sim import LIFLayer, Network
    net = Network(1, [LIFLayer("h", 1, 0.01)], metadata={"x": object()})
    with pytest.raises(ValueError, match="JSON-serialisable"):
        save_network(tmp_path / "m.h5", net)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ EventStream (block reads)
def _write_raw_events(path, t, ch, v=None):
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["format"] = "axon.events"
        f.attrs["format_version"] = 1
        g = f.create_group("events")
        g.create_dataset("times_s", data=np.asarray(t, np.float64))
        g.create_dataset("channels", data=np.asarray(ch, np.int64))
        g.create_dataset("values", data=np.ones(len(t)) if v is None else np.asarray(v, np.float64))


@pytest.mark.parametrize("block", [1, 3, 7, 1000])
def test_event_stream_hands_out_every_event_once_in_order(tmp_path, block):
    from sim.model.events import merge_duplicates
    from sim.model.io import open_event_stream

    rng = np.random.default_rng(3)
    t = np.round(np.sort(rng.uniform(0, 1, 200)), 3)            # many equal times
    ev = merge_duplicates(t, rng.integers(0, 4, 200), rng.normal(size=200))
    save_events(tmp_path / "e.h5", ev, n_channels=4)
    bounds = [0.0, 0.1, 0.1, 0.25, 0.2501, 0.5, 0.999, 2.0]
    with open_event_stream(tmp_path / "e.h5", block=block) as s:
        s.validate(4)
        assert len(s) == len(ev) and s.last_time_s == ev.times_s[-1]
        parts = [s.before(b) for b in bounds]
    for p, b in zip(parts, bounds):
        assert np.all(p.times_s < b)
    got = Events.concatenate(parts)
    assert np.array_equal(got.times_s, ev.times_s) and np.array_equal(got.channels, ev.channels)
    assert np.array_equal(got.values, ev.values)


@pytest.mark.parametrize("t, ch, msg", [
    ([0.1, 0.2, 0.15, 0.3], [0, 0, 0, 0], "sorted"),
    ([0.1, 0.2, 0.2, 0.3], [0, 1, 1, 0], "two events on channel 1"),
    ([0.1, 0.2, 0.3, 0.4], [0, 1, 5, 0], "channel 5"),
    ([0.1, 0.2, np.nan, 0.4], [0, 1, 1, 0], "finite"),
])
def test_event_stream_validates_across_block_boundaries(tmp_path, t, ch, msg):
    from sim.model.io import load_events, open_event_stream

    _write_raw_events(tmp_path / "bad.h5", t, ch)
    with pytest.raises(ValueError, match=msg):   # what reading the whole file says
        load_events(tmp_path / "bad.h5").check_channels(2)
    for block in (2, 4):   # the bad pair straddles a block boundary with block=2
        with open_event_stream(tmp_path / "bad.h5", block=block) as s, pytest.raises(ValueError, match=msg) as e:
            s.validate(2)
        assert str(tmp_path / "bad.h5") in str(e.value)
