"""gunicorn's settings, read from the working directory when it starts (``gunicorn radimmuno.wsgi``).

The access log names the path but never the query string: searches (the admin's ``?q=``, the patient list's) may
hold an MRN or a name, and an access log is kept and read far more widely than the database (issue 15).
"""
accesslog = "-"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
