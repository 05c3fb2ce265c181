"""The domain's tables (DESIGN §4), one module per part of the product that owns them.

Every model keeps the app label ``dsr`` and its table name; ``dsr/models.py`` (where
Django looks for an app's models) imports them from here.
"""

from .audit import ActorType, AuditChainHead, AuditEvent
from .desk import ApiToken, Note, ReplyTemplate, TOTPDevice
from .mail import EmailLog, EmailSent, EmailStatus, Message
from .requests import (
    OPEN_STATUS_LIST,
    OPEN_STATUSES,
    REFERENCE_ALPHABET,
    TERMINAL_STATUSES,
    DataSubjectRequest,
    Kind,
    Regime,
    RequesterType,
    Status,
    Verification,
    new_reference,
)
from .results import (
    ErasureException,
    ErasureGround,
    NoticeStatus,
    NoticeWay,
    RecipientNotice,
    ResultBundle,
    Suppression,
    Withholding,
)
from .systems import (
    TERMINAL_JOB_STATUSES,
    ConnectorAction,
    ConnectorJob,
    IntegrationToken,
    JobStatus,
    SystemConnection,
)

__all__ = [
    "OPEN_STATUSES",
    "OPEN_STATUS_LIST",
    "REFERENCE_ALPHABET",
    "TERMINAL_JOB_STATUSES",
    "TERMINAL_STATUSES",
    "ActorType",
    "ApiToken",
    "AuditChainHead",
    "AuditEvent",
    "ConnectorAction",
    "ConnectorJob",
    "DataSubjectRequest",
    "EmailLog",
    "EmailSent",
    "EmailStatus",
    "ErasureException",
    "ErasureGround",
    "IntegrationToken",
    "JobStatus",
    "Kind",
    "Message",
    "Note",
    "NoticeStatus",
    "NoticeWay",
    "RecipientNotice",
    "Regime",
    "ReplyTemplate",
    "RequesterType",
    "ResultBundle",
    "Status",
    "Suppression",
    "SystemConnection",
    "TOTPDevice",
    "Verification",
    "Withholding",
    "new_reference",
]
