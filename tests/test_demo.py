"""tools/demo.py's schedule: lanes side by side, jobs in a lane in turn,
the CPU cores split between the lanes (the training itself is the tools',
tested in test_tools.py and test_runs.py)."""
import importlib.util
import os
import os.path as osp
import threading

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
spec = importlib.util.spec_from_file_location(
    'demo', osp.join(ROOT, 'tools', 'demo.py'))
demo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo)


def test_lanes_train_side_by_side_and_their_jobs_in_turn(monkeypatch):
    both_lanes_running = threading.Barrier(2, timeout=10)
    calls = []

    def trained(config, work_dir, options, upstream, reuse, quiet, threads):
        calls.append((config, threads, reuse))
        if config in ('teacher.py', 'student_backbone.py'):
            # Returns only once the other lane has started too.
            both_lanes_running.wait()
        return dict(settings=f'digest of {config}', checkpoint=work_dir,
                    reused=False)

    monkeypatch.setattr(demo, 'trained', trained)
    monkeypatch.setattr(os, 'cpu_count', lambda: 2)
    records = demo.train_in_lanes([
        [('teacher', 'teacher.py', 'work_dirs/t', [], ())],
        [('student backbone', 'student_backbone.py', 'work_dirs/b', [], ()),
         ('student', 'student.py', 'work_dirs/s', [], ('digest', ))]],
        reuse=True)
    assert {label: record['settings'] for label, record in records.items()} \
        == {'teacher': 'digest of teacher.py',
            'student backbone': 'digest of student_backbone.py',
            'student': 'digest of student.py'}
    # One thread per lane; the student after its backbone.
    assert sorted(calls) == [('student.py', 1, True),
                             ('student_backbone.py', 1, True),
                             ('teacher.py', 1, True)]
    assert calls.index(('student.py', 1, True)) > \
        calls.index(('student_backbone.py', 1, True))

    calls.clear()
    demo.train_in_lanes([[('bdd', 'bdd.py', 'work_dirs/d', [], ())]],
                        reuse=False)
    assert calls == [('bdd.py', 2, False)]  # a lane alone gets both cores
