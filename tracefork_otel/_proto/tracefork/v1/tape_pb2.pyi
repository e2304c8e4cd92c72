from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Exchange(_message.Message):
    __slots__ = ("step", "request_sha256", "response_sha256", "method", "url_path", "status_code", "response_headers", "stream", "incomplete", "span_id", "start_time_unix_nano", "end_time_unix_nano", "request_model", "error_type", "redacted")
    STEP_FIELD_NUMBER: _ClassVar[int]
    REQUEST_SHA256_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_SHA256_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    URL_PATH_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_HEADERS_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    INCOMPLETE_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    END_TIME_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    REQUEST_MODEL_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    REDACTED_FIELD_NUMBER: _ClassVar[int]
    step: int
    request_sha256: str
    response_sha256: str
    method: str
    url_path: str
    status_code: int
    response_headers: _containers.RepeatedCompositeFieldContainer[Header]
    stream: bool
    incomplete: bool
    span_id: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    request_model: str
    error_type: str
    redacted: bool
    def __init__(self, step: _Optional[int] = ..., request_sha256: _Optional[str] = ..., response_sha256: _Optional[str] = ..., method: _Optional[str] = ..., url_path: _Optional[str] = ..., status_code: _Optional[int] = ..., response_headers: _Optional[_Iterable[_Union[Header, _Mapping]]] = ..., stream: _Optional[bool] = ..., incomplete: _Optional[bool] = ..., span_id: _Optional[str] = ..., start_time_unix_nano: _Optional[int] = ..., end_time_unix_nano: _Optional[int] = ..., request_model: _Optional[str] = ..., error_type: _Optional[str] = ..., redacted: _Optional[bool] = ...) -> None: ...

class Header(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Draw(_message.Message):
    __slots__ = ("order", "kind", "value", "before_step")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    BEFORE_STEP_FIELD_NUMBER: _ClassVar[int]
    order: int
    kind: str
    value: str
    before_step: int
    def __init__(self, order: _Optional[int] = ..., kind: _Optional[str] = ..., value: _Optional[str] = ..., before_step: _Optional[int] = ...) -> None: ...

class Tape(_message.Message):
    __slots__ = ("schema", "trace_id", "run_name", "exchanges", "draws", "digest", "root_span_id", "start_time_unix_nano", "end_time_unix_nano", "partial", "parent_trace_id", "fork_step", "outcome", "entry")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_NAME_FIELD_NUMBER: _ClassVar[int]
    EXCHANGES_FIELD_NUMBER: _ClassVar[int]
    DRAWS_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    ROOT_SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    END_TIME_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    PARENT_TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    FORK_STEP_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    schema: int
    trace_id: str
    run_name: str
    exchanges: _containers.RepeatedCompositeFieldContainer[Exchange]
    draws: _containers.RepeatedCompositeFieldContainer[Draw]
    digest: str
    root_span_id: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    partial: bool
    parent_trace_id: str
    fork_step: int
    outcome: Outcome
    entry: EntryPoint
    def __init__(self, schema: _Optional[int] = ..., trace_id: _Optional[str] = ..., run_name: _Optional[str] = ..., exchanges: _Optional[_Iterable[_Union[Exchange, _Mapping]]] = ..., draws: _Optional[_Iterable[_Union[Draw, _Mapping]]] = ..., digest: _Optional[str] = ..., root_span_id: _Optional[str] = ..., start_time_unix_nano: _Optional[int] = ..., end_time_unix_nano: _Optional[int] = ..., partial: _Optional[bool] = ..., parent_trace_id: _Optional[str] = ..., fork_step: _Optional[int] = ..., outcome: _Optional[_Union[Outcome, _Mapping]] = ..., entry: _Optional[_Union[EntryPoint, _Mapping]] = ...) -> None: ...

class Outcome(_message.Message):
    __slots__ = ("status", "sha256", "error_type")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    status: str
    sha256: str
    error_type: str
    def __init__(self, status: _Optional[str] = ..., sha256: _Optional[str] = ..., error_type: _Optional[str] = ...) -> None: ...

class EntryPoint(_message.Message):
    __slots__ = ("kind", "function", "method", "inputs_sha256", "inputs_not_captured", "command", "cwd")
    KIND_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    INPUTS_SHA256_FIELD_NUMBER: _ClassVar[int]
    INPUTS_NOT_CAPTURED_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    kind: str
    function: str
    method: bool
    inputs_sha256: str
    inputs_not_captured: str
    command: _containers.RepeatedScalarFieldContainer[str]
    cwd: str
    def __init__(self, kind: _Optional[str] = ..., function: _Optional[str] = ..., method: _Optional[bool] = ..., inputs_sha256: _Optional[str] = ..., inputs_not_captured: _Optional[str] = ..., command: _Optional[_Iterable[str]] = ..., cwd: _Optional[str] = ...) -> None: ...

class Blob(_message.Message):
    __slots__ = ("sha256", "data")
    SHA256_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    data: bytes
    def __init__(self, sha256: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class Bundle(_message.Message):
    __slots__ = ("magic", "tape", "blobs")
    MAGIC_FIELD_NUMBER: _ClassVar[int]
    TAPE_FIELD_NUMBER: _ClassVar[int]
    BLOBS_FIELD_NUMBER: _ClassVar[int]
    magic: str
    tape: Tape
    blobs: _containers.RepeatedCompositeFieldContainer[Blob]
    def __init__(self, magic: _Optional[str] = ..., tape: _Optional[_Union[Tape, _Mapping]] = ..., blobs: _Optional[_Iterable[_Union[Blob, _Mapping]]] = ...) -> None: ...
