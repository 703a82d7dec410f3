"""The grader, piece by piece (``python -m signbook.course grade`` puts them together).

- :mod:`~signbook.grading.assignment`: what to expect of a submission, from the instructor: the
  exercises and their points (the book's chapter, or the release manifest ``make student`` writes);
- :mod:`~signbook.grading.hidden`: the instructor's hidden checks;
- :mod:`~signbook.grading.students`: who a submission belongs to (roster, metadata, file name);
- :mod:`~signbook.grading.runner`: what runs inside the sandbox (:mod:`signbook.sandbox`): the
  notebook, cell by cell, reporting as it goes;
- :mod:`~signbook.grading.run`: one submission through the sandbox, and what it reported, read as
  plain data;
- :mod:`~signbook.grading.judge`: points and messages, judged in the grader's process;
- :mod:`~signbook.grading.results`: results kept per student as they come, the CSV files, the
  feedback; :mod:`~signbook.grading.exports`: the files a learning platform imports;
- :mod:`~signbook.grading.grade`: a class's submissions, in parallel, resumable.
"""
