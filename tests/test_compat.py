import importlib.metadata
import importlib.util
import os
import pickle
import re
import subprocess
import sys
import textwrap

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer, MessageHub

from mmkd import compat

KD_CONFIG = os.path.join(os.path.dirname(__file__), '..', 'configs',
                         'pspnet_r101_to_r18_kd.py')
HAS_COMPILED_MMCV = importlib.util.find_spec('mmcv._ext') is not None


@pytest.mark.skipif(HAS_COMPILED_MMCV, reason='full mmcv is installed')
def test_missing_compiled_ops_raise_a_clear_error_when_used():
    from mmcv.ops import point_sample, sigmoid_focal_loss  # noqa: F401
    with pytest.raises(compat.MissingCompiledOpError,
                       match=r'mmcv\.ops\.point_sample needs the compiled'):
        point_sample(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2))
    with pytest.raises(compat.MissingCompiledOpError,
                       match='install full mmcv|Install full mmcv'):
        mmcv.ops.DeformConv2d(3, 3, 3)
    # stand-ins are classes: isinstance checks in mmengine keep working
    assert not isinstance(torch.nn.Conv2d(1, 1, 1), mmcv.ops.DeformConv2d)
    assert not hasattr(mmcv.ops, '__file__')


def test_mmseg_models_import_and_build_pspnet():
    import mmseg.models  # noqa: F401
    from mmseg.registry import MODELS
    assert MODELS.get('PSPHead') is not None


def test_ops_are_left_alone_when_the_compiled_extension_exists(monkeypatch):
    monkeypatch.delitem(sys.modules, 'mmcv.ops')
    monkeypatch.delattr(mmcv, 'ops', raising=False)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, 'find_spec', lambda name, *a: object()
        if name == 'mmcv._ext' else real_find_spec(name, *a))
    compat._stub_mmcv_ops()
    assert 'mmcv.ops' not in sys.modules


def mmengine_checkpoint():
    """What mmengine's runner saves besides weights: a message hub with
    HistoryBuffers and numpy scalars."""
    hub = MessageHub('compat-test')
    hub.update_scalar('train/loss', 0.5)
    hub.update_scalar('train/loss', np.float32(0.25))
    hub.update_info('eta', np.float64(12.5))
    return {
        'meta': {'iter': 3, 'seed': 0},
        'state_dict': {'w': torch.ones(2)},
        'message_hub': hub.state_dict(),
    }


def test_mmengine_checkpoints_load_with_weights_only(tmp_path):
    path = tmp_path / 'iter_3.pth'
    torch.save(mmengine_checkpoint(), path)
    loaded = torch.load(path, weights_only=True)
    scalars = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(scalars, HistoryBuffer)
    assert scalars.mean() == pytest.approx(0.375)
    assert loaded['message_hub']['runtime_info']['eta'] == 12.5


class _RunsCode:
    def __reduce__(self):
        return os.system, ('touch PWNED',)


def test_other_pickled_objects_are_still_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({'meta': _RunsCode()}, tmp_path / 'evil.pth')
    with pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / 'evil.pth', weights_only=True)
    assert not (tmp_path / 'PWNED').exists()


class _ReachesAttributes:
    """Pickles as getattr(numpy.ndarray, 'tofile')."""

    def __reduce__(self):
        return getattr, (np.ndarray, 'tofile')


def test_getattr_is_allowed_for_history_buffer_methods_only(tmp_path):
    torch.save({'x': _ReachesAttributes()}, tmp_path / 'reach.pth')
    with pytest.raises(pickle.UnpicklingError, match='refused getattr'):
        torch.load(tmp_path / 'reach.pth', weights_only=True)


def test_pkg_resources_free_lookups_agree_with_mmengine():
    from mmengine.utils import package_utils
    if importlib.util.find_spec('pkg_resources') is not None:
        assert (compat.get_installed_path('mmsegmentation') ==
                package_utils.get_installed_path('mmsegmentation'))
    assert compat.get_installed_path('mmsegmentation').endswith('mmseg')
    assert compat.is_installed('mmsegmentation')
    assert not compat.is_installed('surely-not-a-package-mmkd')


def test_mmseg_configs_resolve_without_pkg_resources(monkeypatch):
    import mmengine.config.config as config_module
    import mmengine.hub.hub as hub_module
    import mmengine.utils as utils_module
    import mmengine.utils.package_utils as package_utils

    def no_pkg_resources(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'pkg_resources'")

    for module in (config_module, hub_module, utils_module, package_utils):
        for name in ('is_installed', 'get_installed_path'):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, no_pkg_resources)
    with pytest.raises(ModuleNotFoundError):
        Config.fromfile(KD_CONFIG)
    compat.apply()
    cfg = Config.fromfile(KD_CONFIG)
    assert cfg.model.student.backbone.depth == 18


def test_the_install_has_one_opencv():
    """setup.py asks for the OpenCV that mmengine and mmcv require, and no
    other: a fresh install (CI) has exactly that one."""
    assert compat.installed_opencv() == ['opencv-python']


def test_two_opencv_distributions_are_named_with_the_fix(monkeypatch):
    present = {'opencv-python', 'opencv-python-headless'}

    def distribution(name):
        if name in present:
            return object()
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, 'distribution', distribution)
    with pytest.warns(UserWarning) as warned:
        compat.apply()
    message = str(warned[0].message)
    assert "2 OpenCV distributions are installed (['opencv-python', " \
        "'opencv-python-headless'])" in message
    assert 'pip uninstall -y opencv-python-headless && pip install ' \
        '--force-reinstall --no-deps opencv-python' in message


def python(code, **env):
    """Run ``code`` in a fresh interpreter; its completed process."""
    return subprocess.run([sys.executable, '-W', 'default', '-c', code],
                          capture_output=True, text=True,
                          env=dict(os.environ, **env), timeout=300)


IMPORT_AND_BUILD = textwrap.dedent('''
    import sys
    import mmkd
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    from mmkd.models.builder import config_path
    cfg = Config.fromfile(config_path(  # mmseg:: bases
        'mmkd::demo/pspnet_r101_to_r18_kd_tiny.py'))
    init_default_scope('mmseg')
    MODELS.build(cfg.model.student)
    from mmseg.models.decode_heads import decode_head
    print('pkg_resources' in sys.modules,
          hasattr(decode_head.accuracy, 'mmkd_original'))
    ''')


def test_import_mmkd_is_quiet_and_changes_no_computation():
    """Configs resolve without pkg_resources (no deprecation warning), the
    warnings the user cannot act on are filtered, and MMSegmentation's
    accuracy is its own unless a config opts in."""
    result = python(IMPORT_AND_BUILD)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ['False', 'False']
    assert 'Warning' not in result.stderr, result.stderr
    shown = python(IMPORT_AND_BUILD, MMKD_SHOW_ALL_WARNINGS='1').stderr
    for message, _ in compat.QUIET[:3]:  # raised by building this model
        assert re.search(message, shown), message


def test_decode_heads_log_the_same_top1_accuracy_from_max():
    import mmkd.fast_accuracy  # noqa: F401 (the opt-in)
    from mmseg.models.decode_heads import decode_head
    from mmseg.models.losses import accuracy
    assert decode_head.accuracy.mmkd_original is accuracy
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 11, 9, 13, generator=generator)
    labels = torch.randint(0, 11, (3, 9, 13), generator=generator)
    labels[0, :4] = 255
    for ignore_index in (None, 255):
        expected = accuracy(logits, labels, ignore_index=ignore_index)
        got = decode_head.accuracy(logits, labels, ignore_index=ignore_index)
        assert got.shape == expected.shape == (1, )
        torch.testing.assert_close(got, expected)
    # By hand: 2 of the 3 counted pixels right, the ignored one left out.
    logits = torch.tensor([[[[2., 0., 1., 5.]], [[1., 3., 0., 0.]]]])
    labels = torch.tensor([[[0, 1, 1, 255]]])
    assert decode_head.accuracy(logits, labels, ignore_index=255).item() \
        == pytest.approx(200 / 3)
    # Top-k stays with mmseg's own function.
    assert [a.item() for a in decode_head.accuracy(logits, labels, (1, 2))] \
        == [a.item() for a in accuracy(logits, labels, (1, 2))] \
        == pytest.approx([50, 75])
