"""share_gpus: memory growth on every GPU, once, unless the user decided."""

import pytest
import tensorflow as tf

from sklstm import _device

GPUS = [
    tf.config.PhysicalDevice(name=f"/physical_device:GPU:{i}", device_type="GPU")
    for i in range(2)
]


@pytest.fixture
def fake_gpus(monkeypatch):
    """Two fake GPUs; records the calls share_gpus makes to tf.config."""
    calls = {
        "gpus": GPUS,
        "list": 0,
        "growth": [],
        "initialised": False,
        "configured": None,
    }

    def list_physical_devices(device_type=None):
        assert device_type == "GPU"
        calls["list"] += 1
        return list(calls["gpus"])

    def set_memory_growth(device, enable):
        if calls["initialised"]:
            raise RuntimeError(
                "Physical devices cannot be modified after being initialized"
            )
        calls["growth"].append((device.name, enable))

    def get_logical_device_configuration(device):
        return calls["configured"] if device is GPUS[-1] else None

    monkeypatch.setattr(tf.config, "list_physical_devices", list_physical_devices)
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", set_memory_growth)
    monkeypatch.setattr(
        tf.config,
        "get_logical_device_configuration",
        get_logical_device_configuration,
    )
    monkeypatch.delenv(_device.ALLOW_GROWTH_ENV, raising=False)
    monkeypatch.setattr(_device, "_done", False)
    return calls


def test_share_gpus_turns_on_memory_growth_on_every_gpu_once(fake_gpus):
    _device.share_gpus()
    assert fake_gpus["growth"] == [(gpu.name, True) for gpu in GPUS]
    _device.share_gpus()
    _device.share_gpus()
    assert fake_gpus["list"] == 1
    assert len(fake_gpus["growth"]) == len(GPUS)


@pytest.mark.parametrize("value", ["true", "false"])
def test_share_gpus_leaves_the_users_environment_setting_alone(
    fake_gpus, monkeypatch, value
):
    monkeypatch.setenv(_device.ALLOW_GROWTH_ENV, value)
    _device.share_gpus()
    assert fake_gpus["list"] == 0 and fake_gpus["growth"] == []


def test_share_gpus_leaves_configured_logical_devices_alone(fake_gpus):
    fake_gpus["configured"] = [tf.config.LogicalDeviceConfiguration(memory_limit=512)]
    _device.share_gpus()
    assert fake_gpus["growth"] == []


def test_share_gpus_does_nothing_once_devices_are_initialised(fake_gpus):
    fake_gpus["initialised"] = True
    _device.share_gpus()  # no RuntimeError
    assert fake_gpus["growth"] == []
    fake_gpus["initialised"] = False
    _device.share_gpus()  # remembered: it does not try again
    assert fake_gpus["list"] == 1 and fake_gpus["growth"] == []


def test_share_gpus_without_gpu_does_nothing(fake_gpus):
    fake_gpus["gpus"] = []
    _device.share_gpus()
    assert fake_gpus["list"] == 1 and fake_gpus["growth"] == []


def test_share_gpus_on_this_machine_does_not_raise(monkeypatch):
    # The real tf.config, on whatever devices this machine has.
    monkeypatch.setattr(_device, "_done", False)
    _device.share_gpus()
    _device.share_gpus()
    assert _device._done
