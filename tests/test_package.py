"""mmkd stands on its own: no module reaches into the repository around it
(tools/, docs/, paths built from the package's own location), `import
mmkd` prints nothing, and the benchmark's runs train and test from any
directory, in child processes that run mmkd itself."""
import glob
import json
import os.path as osp
import re
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MODULES = sorted(glob.glob(osp.join(ROOT, 'mmkd', '**', '*.py'),
                           recursive=True))
REPOSITORY_PATHS = [
    re.compile(r'''['"](\.\./)*(tools|docs|tests)/[\w/]*\.(py|md|json)['"]'''),
    re.compile(r'osp\.dirname\(osp\.dirname\(osp\.abspath\(__file__'),
    re.compile(r'spec_from_file_location'),
]


@pytest.mark.parametrize('path', MODULES,
                         ids=lambda p: osp.relpath(p, ROOT))
def test_no_module_reads_or_runs_the_repository(path):
    with open(path) as file:
        source = file.read()
    found = [pattern.pattern for pattern in REPOSITORY_PATHS
             if pattern.search(source)]
    assert not found, found


def test_import_mmkd_prints_nothing(tmp_path):
    result = subprocess.run([sys.executable, '-c', 'import mmkd'],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout == result.stderr == ''


def test_a_benchmark_run_trains_and_tests_outside_the_repository(
        tmp_path, monkeypatch):
    """The student alone on DigitScapes for two iterations, trained and
    tested by mmkd.benchmark.runs in a directory of its own: the configs
    come from the package (mmkd::), the data and work dirs from the
    current directory."""
    from mmkd.benchmark import runs
    from mmkd.datasets import write_digitscapes
    monkeypatch.chdir(tmp_path)
    write_digitscapes('data/digitscapes')
    config = 'mmkd::digitscapes/pspnet_r18w8_digitscapes.py'
    options = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
               'default_hooks.checkpoint.interval=2',
               'param_scheduler.0.end=2', 'train_dataloader.batch_size=2',
               'model.backbone.init_cfg=None']
    record = runs.trained(config, 'work_dirs/student', options, quiet=True,
                          threads=1)
    assert not record['reused'] and record['checkpoint'].endswith(
        'iter_2.pth') and osp.isfile(record['checkpoint'])
    assert runs.trained(config, 'work_dirs/student', options, quiet=True,
                        threads=1)['reused']
    with open('work_dirs/student/run.json') as file:
        assert json.load(file)['command'].startswith(
            f'python tools/train.py {config} --work-dir work_dirs/student')
    figures = runs.test(config, record['checkpoint'], 'work_dirs/test',
                        options=['model.backbone.init_cfg=None'],
                        threads=1)
    assert 0 <= figures['mIoU'] <= 100
    assert set(figures['per_class']) == {'background', *map(str, range(10))}
    # everything under the current directory: logs, checkpoints, results
    assert (tmp_path / 'work_dirs/student/train.log').is_file()
    assert (tmp_path / 'work_dirs/test/test.log').is_file()
