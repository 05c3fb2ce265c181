# A date as people read it on the pages and in the emails, "5 December 2026" (Django's
# English default is the American "Dec. 5, 2026"); the rest is Django's English.
DATE_FORMAT = "j F Y"
