"""A local stand-in for a Databricks SQL warehouse: the Thrift (HiveServer2 over HTTP) routes
databricks-sql-connector calls, answered by a real local Spark.

The connector is used unchanged; only its `_connection_uri` points here (plain HTTP on 127.0.0.1).
Statements run through `session.sql(text, args=...)` with the connector's named parameters, results
go back as Arrow batches, as a warehouse sends them. The bearer token is checked, so a test can see a
wrong token refused. Only what the studio needs: open/close session, execute, status, metadata,
fetch, cancel and close operation.
"""

from __future__ import annotations

import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pyarrow as pa
from databricks.sql.thrift_api.TCLIService import TCLIService, ttypes
from thrift.protocol import TBinaryProtocol
from thrift.transport import TTransport

_ARROW_TO_THRIFT = [
    (pa.types.is_boolean, ttypes.TTypeId.BOOLEAN_TYPE),
    (pa.types.is_int8, ttypes.TTypeId.TINYINT_TYPE),
    (pa.types.is_int16, ttypes.TTypeId.SMALLINT_TYPE),
    (pa.types.is_int32, ttypes.TTypeId.INT_TYPE),
    (pa.types.is_int64, ttypes.TTypeId.BIGINT_TYPE),
    (pa.types.is_float32, ttypes.TTypeId.FLOAT_TYPE),
    (pa.types.is_float64, ttypes.TTypeId.DOUBLE_TYPE),
    (pa.types.is_timestamp, ttypes.TTypeId.TIMESTAMP_TYPE),
    (pa.types.is_date, ttypes.TTypeId.DATE_TYPE),
    (pa.types.is_decimal, ttypes.TTypeId.DECIMAL_TYPE),
]
_OK = ttypes.TStatus(statusCode=ttypes.TStatusCode.SUCCESS_STATUS)


def _handle() -> ttypes.THandleIdentifier:
    return ttypes.THandleIdentifier(guid=uuid.uuid4().bytes, secret=uuid.uuid4().bytes)


def _type_of(kind: pa.DataType) -> int:
    return next((thrift for test, thrift in _ARROW_TO_THRIFT if test(kind)), ttypes.TTypeId.STRING_TYPE)


class _Warehouse:
    """The Iface of TCLIService over one Spark session."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.results: dict[bytes, pa.Table | Exception] = {}
        self.statements: list[tuple[str, dict[str, Any]]] = []  # what the client sent, for the tests

    def OpenSession(self, request):
        return ttypes.TOpenSessionResp(
            status=_OK, serverProtocolVersion=ttypes.TProtocolVersion.SPARK_CLI_SERVICE_PROTOCOL_V7,
            sessionHandle=ttypes.TSessionHandle(sessionId=_handle()), canUseMultipleCatalogs=True,
        )

    def CloseSession(self, request):
        return ttypes.TCloseSessionResp(status=_OK)

    def ExecuteStatement(self, request):
        params = {p.name: p.value.stringValue if p.value else None for p in (request.parameters or [])}
        self.statements.append((request.statement, params))
        handle = ttypes.TOperationHandle(operationId=_handle(), operationType=ttypes.TOperationType.EXECUTE_STATEMENT,
                                         hasResultSet=True)
        try:
            frame = self.session.sql(request.statement, args=params or None)
            self.results[handle.operationId.guid] = pa.Table.from_pandas(frame.toPandas(), preserve_index=False)
        except Exception as error:  # a Spark error is the warehouse's answer, as Databricks sends it
            self.results[handle.operationId.guid] = error
        return ttypes.TExecuteStatementResp(status=_OK, operationHandle=handle)

    def GetOperationStatus(self, request):
        result = self.results.get(request.operationHandle.operationId.guid)
        if isinstance(result, Exception):
            return ttypes.TGetOperationStatusResp(
                status=_OK, operationState=ttypes.TOperationState.ERROR_STATE,
                errorMessage=str(result).splitlines()[0], displayMessage=str(result).splitlines()[0],
            )
        state = ttypes.TOperationState.FINISHED_STATE if result is not None else ttypes.TOperationState.CLOSED_STATE
        return ttypes.TGetOperationStatusResp(status=_OK, operationState=state)

    def _metadata(self, table: pa.Table) -> ttypes.TGetResultSetMetadataResp:
        columns = [
            ttypes.TColumnDesc(columnName=field.name, position=index + 1, typeDesc=ttypes.TTypeDesc(types=[
                ttypes.TTypeEntry(primitiveEntry=ttypes.TPrimitiveTypeEntry(type=_type_of(field.type)))]))
            for index, field in enumerate(table.schema)
        ]
        return ttypes.TGetResultSetMetadataResp(
            status=_OK, schema=ttypes.TTableSchema(columns=columns), resultFormat=ttypes.TSparkRowSetType.ARROW_BASED_SET,
            lz4Compressed=False, arrowSchema=table.schema.serialize().to_pybytes(), isStagingOperation=False,
        )

    def GetResultSetMetadata(self, request):
        return self._metadata(self.results[request.operationHandle.operationId.guid])

    def FetchResults(self, request):
        table = self.results.pop(request.operationHandle.operationId.guid, None)
        if table is None:  # already fetched: an empty last page
            return ttypes.TFetchResultsResp(status=_OK, hasMoreRows=False,
                                            results=ttypes.TRowSet(startRowOffset=0, rows=[], arrowBatches=[]))
        batches = []
        for batch in table.to_batches():
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_batch(batch)
            stream = sink.getvalue().to_pybytes()
            schema_length = len(table.schema.serialize().to_pybytes())
            batches.append(ttypes.TSparkArrowBatch(batch=stream[schema_length:], rowCount=batch.num_rows))
        self.results[request.operationHandle.operationId.guid] = None  # fetched
        return ttypes.TFetchResultsResp(
            status=_OK, hasMoreRows=False, resultSetMetadata=self._metadata(table),
            results=ttypes.TRowSet(startRowOffset=0, rows=[], arrowBatches=batches),
        )

    def CancelOperation(self, request):
        self.session.sparkContext.cancelAllJobs()
        return ttypes.TCancelOperationResp(status=_OK)

    def CloseOperation(self, request):
        self.results.pop(request.operationHandle.operationId.guid, None)
        return ttypes.TCloseOperationResp(status=_OK)


class DatabricksStandIn:
    """`with DatabricksStandIn(spark, token="dapi-test") as standin:` then `standin.uri` for the
    connector's `_connection_uri`; `standin.statements` lists what it ran."""

    def __init__(self, session: Any, *, token: str) -> None:
        self.warehouse = _Warehouse(session)
        processor = TCLIService.Processor(self.warehouse)
        expected = f"Bearer {token}"

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                if self.headers.get("Authorization") != expected:
                    self.send_response(403)
                    self.end_headers()
                    self.wfile.write(b"Invalid access token.")
                    return
                body = self.rfile.read(int(self.headers["Content-Length"]))
                reply = TTransport.TMemoryBuffer()
                processor.process(TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(body)),
                                  TBinaryProtocol.TBinaryProtocol(reply))
                payload = reply.getvalue()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-thrift")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_port}/sql/1.0/warehouses/standin"

    @property
    def statements(self) -> list[tuple[str, dict[str, Any]]]:
        return self.warehouse.statements

    def __enter__(self) -> DatabricksStandIn:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
