"""Officers' and systems' words about the person are encrypted at rest (1/2: the columns).

Denial and extension reasons, job errors and results (receipts with their notes, skip and
waiting reasons), exception and withholding reasons, withheld categories, recipients'
notes and bundle manifests become text columns holding ciphertext; 0018 encrypts the
rows already there.
"""

import dsr.core.fields
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('dsr', '0016_status_revocations'),
    ]

    operations = [
        migrations.AlterField(
            model_name='connectorjob',
            name='error',
            field=dsr.core.fields.EncryptedTextField(blank=True, help_text="what went wrong, in the system's or an officer's words"),
        ),
        migrations.AlterField(
            model_name='connectorjob',
            name='result',
            field=dsr.core.fields.EncryptedJSONField(blank=True, default=dict, help_text='counts, the receipt, why it waits or was skipped or kept'),
        ),
        migrations.AlterField(
            model_name='datasubjectrequest',
            name='denial_reason',
            field=dsr.core.fields.EncryptedTextField(blank=True, help_text="the officer's words to the person"),
        ),
        migrations.AlterField(
            model_name='datasubjectrequest',
            name='extension_reason',
            field=dsr.core.fields.EncryptedTextField(blank=True, help_text="the officer's words to the person"),
        ),
        migrations.AlterField(
            model_name='erasureexception',
            name='reason',
            field=dsr.core.fields.EncryptedTextField(),
        ),
        migrations.AlterField(
            model_name='recipientnotice',
            name='note',
            field=dsr.core.fields.EncryptedTextField(blank=True, help_text='how they were told'),
        ),
        migrations.AlterField(
            model_name='resultbundle',
            name='manifest',
            field=dsr.core.fields.EncryptedJSONField(default=dict, help_text='counts and withholdings with their reasons; no records'),
        ),
        migrations.AlterField(
            model_name='withholding',
            name='category',
            field=dsr.core.fields.EncryptedTextField(),
        ),
        migrations.AlterField(
            model_name='withholding',
            name='reason',
            field=dsr.core.fields.EncryptedTextField(),
        ),
    ]
