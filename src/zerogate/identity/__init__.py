"""The identity provider's directory: users, groups, argon2id passwords, throttling and lockout.

`Directory` is the async API over the store. Identity never imports `zerogate.control`: changes
are returned as `IdentityChange`s and handed to an optional `on_change` recorder inside the
writing transaction; the composition root (`zerogate.app.identity_admin`) turns them into
`entity.changed` events.
"""

from zerogate.identity._directory import Directory
from zerogate.identity._mfa_db import TOTPCredential
from zerogate.identity._model import (
    AuthenticationFailed,
    ChangeKind,
    ChangeRecorder,
    FailureReason,
    Group,
    IdentityChange,
    User,
    VerifiedPassword,
)
from zerogate.identity._names import (
    EMAIL_MAX_CHARS,
    USERNAME_MAX_CHARS,
    normalise_email,
    normalise_group_name,
    normalise_username,
)
from zerogate.identity._passwords import Argon2Parameters, PasswordHasher, PasswordPolicy
from zerogate.identity._recovery import (
    RECOVERY_CODE_COUNT,
    RecoveryCodeInvalid,
    RecoveryCodes,
    RecoveryFailureReason,
    VerifiedRecoveryCode,
    normalise_recovery_code,
)
from zerogate.identity._sessions import (
    DEFAULT_ABSOLUTE_TIMEOUT_S,
    DEFAULT_IDLE_TIMEOUT_S,
    SESSION_COOKIE_MAX_BYTES,
    SESSION_COOKIE_NAME,
    TOUCH_INTERVAL_S,
    ActiveSession,
    NewSession,
    SessionFailure,
    SessionInvalid,
    SessionRecorder,
    Sessions,
    SessionsRevoked,
    clear_session_cookie,
    parse_session_cookie,
    session_cookie,
    session_id,
)
from zerogate.identity._throttle import LoginLimits
from zerogate.identity._totp import (
    TOTP,
    TOTP_DIGITS,
    TOTP_PERIOD_S,
    MFALimits,
    TOTPEnrolment,
    TOTPFailureReason,
    TOTPInvalid,
    VerifiedTOTP,
)
from zerogate.identity._webauthn import PASSKEY_CEREMONY_TTL, Passkeys
from zerogate.identity._webauthn_db import PasskeyCredential
from zerogate.identity._webauthn_model import (
    PASSKEY_CREDENTIAL_JSON_MAX_BYTES,
    PASSKEY_NAME_MAX_CHARS,
    PasskeyAuthenticationOptions,
    PasskeyFailureReason,
    PasskeyInvalid,
    PasskeyLimits,
    PasskeyRegistrationOptions,
    VerifiedPasskey,
)

__all__ = [
    "DEFAULT_ABSOLUTE_TIMEOUT_S",
    "DEFAULT_IDLE_TIMEOUT_S",
    "EMAIL_MAX_CHARS",
    "PASSKEY_CEREMONY_TTL",
    "PASSKEY_CREDENTIAL_JSON_MAX_BYTES",
    "PASSKEY_NAME_MAX_CHARS",
    "RECOVERY_CODE_COUNT",
    "SESSION_COOKIE_MAX_BYTES",
    "SESSION_COOKIE_NAME",
    "TOTP",
    "TOTP_DIGITS",
    "TOTP_PERIOD_S",
    "TOUCH_INTERVAL_S",
    "USERNAME_MAX_CHARS",
    "ActiveSession",
    "Argon2Parameters",
    "AuthenticationFailed",
    "ChangeKind",
    "ChangeRecorder",
    "Directory",
    "FailureReason",
    "Group",
    "IdentityChange",
    "LoginLimits",
    "MFALimits",
    "NewSession",
    "PasskeyAuthenticationOptions",
    "PasskeyCredential",
    "PasskeyFailureReason",
    "PasskeyInvalid",
    "PasskeyLimits",
    "PasskeyRegistrationOptions",
    "Passkeys",
    "PasswordHasher",
    "PasswordPolicy",
    "RecoveryCodeInvalid",
    "RecoveryCodes",
    "RecoveryFailureReason",
    "SessionFailure",
    "SessionInvalid",
    "SessionRecorder",
    "Sessions",
    "SessionsRevoked",
    "TOTPCredential",
    "TOTPEnrolment",
    "TOTPFailureReason",
    "TOTPInvalid",
    "User",
    "VerifiedPasskey",
    "VerifiedPassword",
    "VerifiedRecoveryCode",
    "VerifiedTOTP",
    "clear_session_cookie",
    "normalise_email",
    "normalise_group_name",
    "normalise_recovery_code",
    "normalise_username",
    "parse_session_cookie",
    "session_cookie",
    "session_id",
]
