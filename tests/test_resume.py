"""An interrupted distillation run resumed with ``tools/train.py --resume``
ends with the same student as the run that was never interrupted: PCD's
progressive stages, a distill warm-up and stop, dropout and a validation
on the way included. And a resume file that would run code is refused
unless the user vouches for it."""
import argparse
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from conftest import flip_tensor_bytes
from mmkd.checkpoint import CHECKSUM_KEY
from mmkd.datasets import write_digitscapes
from mmkd.models.builder import save_initial_checkpoint

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DIGITSCAPES = osp.join(ROOT, 'configs', 'digitscapes')
PCD_CONFIG = osp.join(DIGITSCAPES, 'pspnet_r18w16_to_r18w8_digitscapes_pcd.py')


@pytest.fixture(scope='module')
def run_config(tmp_path_factory):
    """The DigitScapes PCD config, 6 iterations of 2 images, a checkpoint
    and a validation every 3, a warm-up over 4 iterations and no
    distillation from the 6th."""
    root = tmp_path_factory.mktemp('resume')
    data = write_digitscapes(str(root / 'data'))
    teacher = root / 'teacher.pth'
    save_initial_checkpoint(
        Config.fromfile(osp.join(DIGITSCAPES,
                                 'pspnet_r18w16_digitscapes.py')).model,
        str(teacher))
    pretrained = root / 'pretrained.pth'
    save_initial_checkpoint(
        osp.join(DIGITSCAPES, 'pretrain', 'pretrain_r18w8_digit_patches.py'),
        str(pretrained), scope='mmpretrain')
    path = root / 'pcd_resume.py'
    path.write_text(f'''
_base_ = [{PCD_CONFIG!r}]
model = dict(
    teacher=dict(checkpoint={str(teacher)!r}),
    student=dict(backbone=dict(init_cfg=dict(checkpoint={str(pretrained)!r}))))
train_dataloader = dict(batch_size=2, dataset=dict(data_root={data!r}))
val_dataloader = dict(dataset=dict(data_root={data!r}))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=6, val_interval=3)
default_hooks = dict(checkpoint=dict(interval=3),
                     logger=dict(interval=1))
log_processor = dict(window_size=1)  # each line: that iteration's losses
custom_hooks = [
    dict(type='mmkd.ResumeRandomStateHook'),
    dict(type='mmkd.DistillScheduleHook', warmup_iters=4, stop_iter=5),
]
''')
    return str(path)


def train(config, work_dir, *args):
    return subprocess.run(
        [sys.executable, 'tools/train.py', config, '--work-dir',
         str(work_dir), *args], cwd=ROOT, capture_output=True, text=True)


def student(checkpoint):
    return torch.load(checkpoint, weights_only=True)['state_dict']


@pytest.fixture(scope='module')
def uninterrupted(run_config, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('uninterrupted')
    result = train(run_config, work_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return work_dir, result.stdout + result.stderr


def resumed_from(checkpoint, run_config, work_dir, *args):
    """Resume in a fresh work dir from ``checkpoint``: what a run
    interrupted after it saved ``checkpoint`` does when resumed."""
    os.makedirs(work_dir)
    shutil.copy(checkpoint, work_dir / 'iter_3.pth')
    return train(run_config, work_dir, '--resume',
                 str(work_dir / 'iter_3.pth'), *args)


def test_resumed_run_ends_with_the_same_student(run_config, uninterrupted,
                                                tmp_path):
    work_dir, log = uninterrupted
    # the schedule at work: warm-up at 1/4, then nothing from the 6th
    assert 'Iter(train) [6/6]' in log
    last = [line for line in log.splitlines() if 'Iter(train) [6/6]' in line]
    assert 'distill.loss_pcd: 0.0000' in last[0]

    result = resumed_from(work_dir / 'iter_3.pth', run_config,
                          tmp_path / 'resumed')
    resumed_log = result.stdout + result.stderr
    assert result.returncode == 0, resumed_log[-3000:]
    assert 'resumed epoch: 0, iter: 3' in resumed_log
    assert 'Iter(train) [4/6]' in resumed_log
    assert 'Iter(train) [3/6]' not in resumed_log

    expected = student(work_dir / 'iter_6.pth')
    got = student(tmp_path / 'resumed' / 'iter_6.pth')
    assert got.keys() == expected.keys()
    different = [k for k in expected if not torch.equal(got[k], expected[k])]
    assert not different
    # and the resumed run did train: its weights moved past iteration 3
    at_3 = student(work_dir / 'iter_3.pth')
    assert any(not torch.equal(at_3[k], expected[k]) for k in expected)


def test_resume_passes_over_a_damaged_latest_checkpoint(
        run_config, uninterrupted, tmp_path):
    """Bytes flipped inside a tensor of the latest checkpoint: ``--resume``
    names it and resumes from the one before, ending where the run that
    was never interrupted ended; ``--resume`` with its path refuses it."""
    work_dir, _ = uninterrupted
    damaged = tmp_path / 'work'
    os.makedirs(damaged)
    for name in ('iter_3.pth', 'iter_6.pth'):
        shutil.copy(work_dir / name, damaged / name)
    (damaged / 'last_checkpoint').write_text(str(damaged / 'iter_6.pth'))
    flip_tensor_bytes(damaged / 'iter_6.pth')

    refused = train(run_config, damaged, '--resume',
                    str(damaged / 'iter_6.pth'))
    assert refused.returncode != 0
    assert f'checkpoint {damaged}/iter_6.pth fails its checksum' in \
        refused.stderr
    result = train(run_config, damaged, '--resume')
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert (f'resuming from {damaged}/iter_3.pth instead of the newer '
            f'{damaged}/iter_6.pth') in log
    assert 'resumed epoch: 0, iter: 3' in log
    expected = student(work_dir / 'iter_6.pth')
    got = student(damaged / 'iter_6.pth')
    assert all(torch.equal(got[k], expected[k]) for k in expected)


class _RunsCode:
    def __init__(self, witness):
        self.witness = witness

    def __reduce__(self):
        return os.system, (f'touch {self.witness}',)


def test_a_resume_file_that_would_run_code_is_refused_unrun(
        run_config, uninterrupted, tmp_path):
    work_dir, _ = uninterrupted
    checkpoint = torch.load(work_dir / 'iter_3.pth', weights_only=True)
    checkpoint['meta']['payload'] = _RunsCode(tmp_path / 'PWNED')
    evil = tmp_path / 'evil.pth'
    torch.save(checkpoint, evil)

    result = train(run_config, tmp_path / 'work', '--resume', str(evil))
    assert result.returncode != 0
    assert f'checkpoint {evil} holds Python objects' in result.stderr
    assert '--trust-checkpoint' in result.stderr
    assert not (tmp_path / 'PWNED').exists()


def legacy_checkpoint(path):
    """The checkpoint at ``path`` as an older script would have saved it:
    an object in its meta that the weights-only unpickler refuses (but that
    runs no code), and no checksum."""
    checkpoint = torch.load(path, weights_only=True)
    checkpoint['meta']['args'] = argparse.Namespace(lr=0.1)  # refused
    del checkpoint[CHECKSUM_KEY]
    return checkpoint


def test_a_trusted_legacy_resume_file_resumes_exactly(
        run_config, uninterrupted, tmp_path):
    work_dir, _ = uninterrupted
    checkpoint = legacy_checkpoint(work_dir / 'iter_3.pth')
    legacy = tmp_path / 'legacy.pth'
    torch.save(checkpoint, legacy)

    result = resumed_from(legacy, run_config, tmp_path / 'refused')
    assert result.returncode != 0
    assert 'argparse.Namespace' in result.stderr
    result = resumed_from(legacy, run_config, tmp_path / 'trusted',
                          '--trust-checkpoint')
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'with the full unpickler (trusted by the user)' in \
        result.stdout + result.stderr
    expected = student(work_dir / 'iter_6.pth')
    got = student(tmp_path / 'trusted' / 'iter_6.pth')
    assert all(torch.equal(got[k], expected[k]) for k in expected)


def test_trust_checkpoint_needs_a_checkpoint(run_config, tmp_path):
    result = train(run_config, tmp_path, '--trust-checkpoint')
    assert result.returncode != 0
    assert '--trust-checkpoint: no checkpoint to trust' in result.stderr


def test_the_test_tool_loads_a_legacy_checkpoint_only_when_trusted(
        run_config, uninterrupted, tmp_path):
    work_dir, _ = uninterrupted
    checkpoint = legacy_checkpoint(work_dir / 'iter_6.pth')
    legacy = tmp_path / 'legacy.pth'
    torch.save(checkpoint, legacy)

    def test(*args):
        return subprocess.run(
            [sys.executable, 'tools/test.py', run_config, str(legacy),
             '--work-dir', str(tmp_path / 'test'), *args],
            cwd=ROOT, capture_output=True, text=True)

    refused = test()
    assert refused.returncode != 0
    assert f'checkpoint {legacy} holds Python objects' in refused.stderr
    assert 'tools/test.py tests' in refused.stderr
    trusted = test('--trust-checkpoint')
    assert trusted.returncode == 0, trusted.stderr[-3000:]
    assert 'mIoU' in trusted.stdout + trusted.stderr


def dist_train(config, work_dir, *args, port):
    env = dict(os.environ, PORT=str(port),
               PATH=osp.dirname(sys.executable) + os.pathsep +
               os.environ['PATH'])
    return subprocess.run(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
         str(work_dir), *args], cwd=ROOT, env=env, capture_output=True,
        text=True)


def test_two_ranks_each_resume_their_own_random_state(run_config, tmp_path):
    """With ``diff_rank_seed`` the two ranks draw different dropout masks;
    each must restore its own state for the resumed run to end where the
    uninterrupted one did."""
    options = ['--cfg-options', 'randomness.diff_rank_seed=True']
    whole = tmp_path / 'whole'
    result = dist_train(run_config, whole, *options, port=29751)
    assert result.returncode == 0, result.stderr[-3000:]
    saved = torch.load(whole / 'iter_3.pth', weights_only=True)[
        'torch_random_state']
    # one state per rank, and they differ: restoring rank 0's on both
    # ranks would not be exact
    assert len(saved['ranks']) == 2
    assert torch.equal(saved['cpu'], saved['ranks'][0]['cpu'])
    assert not torch.equal(saved['ranks'][0]['cpu'], saved['ranks'][1]['cpu'])

    resumed = tmp_path / 'resumed'
    os.makedirs(resumed)
    shutil.copy(whole / 'iter_3.pth', resumed / 'iter_3.pth')
    result = dist_train(run_config, resumed, '--resume',
                        str(resumed / 'iter_3.pth'), *options, port=29752)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'resumed epoch: 0, iter: 3' in log
    assert "restores rank 0's state" not in log
    expected = student(whole / 'iter_6.pth')
    got = student(resumed / 'iter_6.pth')
    different = [k for k in expected if not torch.equal(got[k], expected[k])]
    assert not different


def test_a_connector_resumes_exactly_and_stays_out_of_the_export(
        run_config, tmp_path):
    """The run above plus a feature loss through a connector: the
    connector is in the training checkpoints and resumes exactly; the
    exported student has no trace of it and loads strictly into the plain
    MMSegmentation model."""
    config = tmp_path / 'feature_resume.py'
    config.write_text(f'''
_base_ = [{run_config!r}]
model = dict(distill_losses=dict(loss_feat=dict(
    type='CWDLoss', tau=4.0, loss_weight=3.0,
    student='decode_head.bottleneck', teacher='decode_head.bottleneck',
    connector=dict(type='mmkd.ConvConnector', in_channels=64,
                   out_channels=64))))
''')
    whole = tmp_path / 'whole'
    result = train(str(config), whole)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'distill.loss_feat' in result.stdout + result.stderr
    result = resumed_from(whole / 'iter_3.pth', str(config),
                          tmp_path / 'resumed')
    assert result.returncode == 0, result.stderr[-3000:]
    expected = student(whole / 'iter_6.pth')
    got = student(tmp_path / 'resumed' / 'iter_6.pth')
    connector = [k for k in expected if k.startswith('connectors.loss_feat.')]
    assert len(connector) == 6  # conv weight; BN weight, bias, running stats
    at_3 = student(whole / 'iter_3.pth')
    assert not torch.equal(at_3['connectors.loss_feat.0.weight'],
                           expected['connectors.loss_feat.0.weight'])
    different = [k for k in expected if not torch.equal(got[k], expected[k])]
    assert not different

    exported = tmp_path / 'student.pth'
    result = subprocess.run(
        [sys.executable, 'tools/export_student.py', str(whole / 'iter_6.pth'),
         str(exported)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    weights = torch.load(exported, weights_only=True)['state_dict']
    assert not any('connector' in key for key in weights)
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules()
    plain = MODELS.build(Config.fromfile(str(config)).model.student)
    plain.load_state_dict(weights, strict=True)
