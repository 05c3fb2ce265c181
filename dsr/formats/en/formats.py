# English pages and emails write a day as "2 December 2026": plain, and the same in every
# English-speaking country (Django's default for "en" is the American "Dec. 2, 2026").
DATE_FORMAT = "j F Y"
