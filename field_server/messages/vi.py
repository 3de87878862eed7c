"""The Vietnamese catalogue: every message the server can send, English msgid -> Vietnamese.

A msgid is the English text exactly as it is written where the message arises; a message
formatted with values is written here as a template whose {names} stand for the values
(the same names must appear in the translation). Grouped by where the messages arise;
tests/unit/test_catalogues.py fails when a message has no entry here, or an entry no
message any more.

Words used throughout, so that one answer reads as one text: mutation = thay đổi,
household = hộ, visit = lượt thăm hộ, ward = xã/phường, residential group = tổ/thôn,
unit = đơn vị, canvasser = người vận động, supervisor = giám sát viên, field = trường,
counts = số liệu. Codes, field names and values of the API (``installed_before``,
``scheme:code``, ``true``, ``null``) stay as they are written in requests.
"""

from __future__ import annotations

VI: dict[str, str] = {
    # --- the error registry (field_server/errors.py ERRORS) ------------------------------
    "Wrong username or password.": "Sai tên đăng nhập hoặc mật khẩu.",
    "The access token is missing, malformed or no longer valid.": (
        "Mã truy cập bị thiếu, sai hoặc không còn hiệu lực."
    ),
    "The token has expired; refresh it or log in again.": (
        "Mã truy cập đã hết hạn; hãy làm mới hoặc đăng nhập lại."
    ),
    "This device has been revoked; log in again with a new device.": (
        "Thiết bị này đã bị thu hồi; hãy đăng nhập lại bằng thiết bị mới."
    ),
    "This device is registered with another secret; log in from the device itself.": (
        "Thiết bị này đã được đăng ký với mã bí mật khác; hãy đăng nhập từ chính thiết bị đó."
    ),
    "This refresh token was already used; the session has been closed for safety.": (
        "Mã làm mới đã được dùng; phiên đăng nhập đã bị đóng để đảm bảo an toàn."
    ),
    "Your role may not use this endpoint.": "Vai trò của bạn không được dùng chức năng này.",
    "Not found.": "Không tìm thấy.",
    "This method is not allowed here.": "Phương thức này không được phép ở đây.",
    "The request body is not valid JSON.": "Nội dung yêu cầu không phải JSON hợp lệ.",
    "The form has expired or its security token is wrong; reload the page.": (
        "Biểu mẫu đã hết hạn hoặc mã bảo mật không đúng; hãy tải lại trang."
    ),
    "The request is malformed.": "Yêu cầu không hợp lệ.",
    "Send the body as application/json.": "Hãy gửi nội dung dưới dạng application/json.",
    "The request body is larger than {limit} bytes.": "Nội dung yêu cầu lớn hơn {limit} byte.",
    "Some fields are missing or invalid.": "Một số trường bị thiếu hoặc không hợp lệ.",
    "A batch may hold at most {limit} mutations.": "Mỗi lô được chứa tối đa {limit} thay đổi.",
    # Also domain/push.py's check_batch_start.
    "Expected mutation {expected} next, got {got}.": (
        "Cần thay đổi số {expected} tiếp theo, nhận được {got}."
    ),
    "The record changed since version {base_version}; reload it and try again.": (
        "Bản ghi đã thay đổi kể từ phiên bản {base_version}; hãy tải lại và thử lại."
    ),
    "The visit has been voided by its canvasser; it cannot be reviewed.": (
        "Lượt thăm hộ đã bị người thu thập hủy; không thể duyệt."
    ),
    "This conflict is {status} already; only open conflicts can be settled.": (
        "Xung đột này đã ở trạng thái {status}; chỉ xung đột đang mở mới xử lý được."
    ),
    "This rejected change was re-applied already.": "Thay đổi bị từ chối này đã được áp dụng lại.",
    "The change was refused again ({reason}): {reason_message}": (
        "Thay đổi lại bị từ chối ({reason}): {reason_message}"
    ),
    "The cursor is invalid; start again without one.": (
        "Con trỏ không hợp lệ; hãy bắt đầu lại không có con trỏ."
    ),
    "Too many attempts; try again in {retry_after} seconds.": (
        "Quá nhiều lần thử; hãy thử lại sau {retry_after} giây."
    ),
    "The request could not be handled (HTTP {status}).": "Không thể xử lý yêu cầu (HTTP {status}).",
    "Internal error; it has been logged with request id {request_id}.": (
        "Lỗi máy chủ; đã ghi nhật ký với mã yêu cầu {request_id}."
    ),
    "The database cannot take this request now; try again shortly.": (
        "Cơ sở dữ liệu tạm thời không xử lý được yêu cầu; hãy thử lại sau ít phút."
    ),
    # --- marshmallow's own messages, for the fields and validators the schemas use ------
    "Missing data for required field.": "Thiếu dữ liệu cho trường bắt buộc.",
    "Field may not be null.": "Trường này không được để null.",
    "Invalid value.": "Giá trị không hợp lệ.",
    "Invalid input type.": "Kiểu dữ liệu đầu vào không hợp lệ.",
    "Invalid type.": "Kiểu dữ liệu không hợp lệ.",
    # Also domain/validation.py and domain/push.py (unknown keys of a mutation's data).
    "Unknown field.": "Trường không xác định.",
    "Not a valid string.": "Không phải chuỗi ký tự hợp lệ.",
    "Not a valid utf-8 string.": "Không phải chuỗi UTF-8 hợp lệ.",
    "Not a valid integer.": "Không phải số nguyên hợp lệ.",
    "Not a valid number.": "Không phải số hợp lệ.",
    "Number too large.": "Số quá lớn.",
    "Special numeric values (nan or infinity) are not permitted.": (
        "Không chấp nhận giá trị số đặc biệt (nan hoặc vô cực)."
    ),
    "Not a valid boolean.": "Không phải giá trị boolean hợp lệ (true hoặc false).",
    "Not a valid date.": "Không phải ngày hợp lệ.",
    "Not a valid {awareness} {obj_type}.": "Không phải {obj_type} {awareness} hợp lệ.",
    '"{input}" cannot be formatted as a date.': 'Không thể định dạng "{input}" thành ngày.',
    "Not a valid list.": "Không phải danh sách hợp lệ.",
    "Not a valid mapping type.": "Không phải đối tượng JSON hợp lệ.",
    "Length must be between {min} and {max}.": "Độ dài phải từ {min} đến {max}.",
    "Length must be {equal}.": "Độ dài phải bằng {equal}.",
    "Longer than maximum length {max}.": "Vượt quá độ dài tối đa {max}.",
    "Must be greater than or equal to {min}.": "Phải lớn hơn hoặc bằng {min}.",
    "Must be greater than or equal to {min} and less than or equal to {max}.": (
        "Phải từ {min} đến {max}."
    ),
    "Must be equal to {other}.": "Phải bằng {other}.",
    # Also domain/review.py (the review action).
    "Must be one of: {choices}.": "Phải là một trong các giá trị: {choices}.",
    # --- the schemas' own messages (schemas/) -------------------------------------------
    "Use scheme:code.": "Dùng dạng scheme:code.",
    "Use a lowercase UUID such as 5b0c3f1e-8d2a-4c1b-9e7f-0a1b2c3d4e5f.": (
        "Dùng UUID viết thường, ví dụ 5b0c3f1e-8d2a-4c1b-9e7f-0a1b2c3d4e5f."
    ),
    "A household id.": "Phải là mã của một hộ.",
    "3 to 64 characters: lowercase letters, digits, '.', '_' or '-'.": (
        "Từ 3 đến 64 ký tự: chữ thường, chữ số, '.', '_' hoặc '-'."
    ),
    "Give at least one of active, units, full_name.": (
        "Hãy gửi ít nhất một trong các trường active, units, full_name."
    ),
    # Also the services of stats and exports.
    "`from` is after `to`.": "`from` nằm sau `to`.",
    "Must not be before `from`.": "Không được sớm hơn `from`.",
    "At most {days} days at once.": "Tối đa {days} ngày mỗi lần.",
    "Each mutation must be a JSON object.": "Mỗi thay đổi phải là một đối tượng JSON.",
    "A whole number is required.": "Cần một số nguyên.",
    "Mutation ids start at 1.": "Số thứ tự thay đổi bắt đầu từ 1.",
    "Expected {expected}: ids go up by exactly one.": (
        "Cần số {expected}: số thứ tự tăng đúng 1 mỗi lần."
    ),
    # --- request parsing (field_server/parsing.py) --------------------------------------
    "The body must be a JSON object.": "Nội dung phải là một đối tượng JSON.",
    "No body is expected.": "Yêu cầu này không cần gửi nội dung.",
    # --- the services and auth (field_server/services/, field_server/auth/) -------------
    "This username is already taken.": "Tên đăng nhập này đã có người dùng.",
    "Unknown unit {ref}.": "Không có đơn vị {ref}.",
    "Not a refresh token of this user.": "Không phải mã làm mới của người dùng này.",
    "Send device_secret with its device_id.": "Hãy gửi device_secret kèm device_id của nó.",
    "Required for canvassers: the app's install UUID.": (
        "Bắt buộc với người vận động: UUID cài đặt của ứng dụng."
    ),
    "Choose a ward or a unit above it; a group has no wards.": (
        "Hãy chọn một xã/phường hoặc đơn vị cấp trên; tổ/thôn không chứa xã/phường nào."
    ),
    "Name a ward (or a unit above it).": "Hãy chỉ định một xã/phường (hoặc đơn vị cấp trên).",
    "Name a ward.": "Hãy chỉ định một xã/phường.",
    "Name a residential group.": "Hãy chỉ định một tổ/thôn.",
    "Name a ward (or a unit above); use `group` for a residential group.": (
        "Hãy chỉ định một xã/phường (hoặc đơn vị cấp trên); dùng `group` cho tổ/thôn."
    ),
    "No household with this id in this ward.": "Không có hộ nào mang mã này trong xã/phường này.",
    # --- a mutation's checks (domain/validation.py, domain/hlc.py) ----------------------
    "Required.": "Bắt buộc phải có.",
    "Required for this type.": "Bắt buộc với loại thay đổi này.",
    "Required when the outcome is {outcome}.": "Bắt buộc khi kết quả là {outcome}.",
    "A mutation must be an object.": "Mỗi thay đổi phải là một đối tượng JSON.",
    "Must be an object.": "Phải là một đối tượng JSON.",
    "The mutation is invalid.": "Thay đổi không hợp lệ.",
    "The household is invalid.": "Thông tin hộ không hợp lệ.",
    "The visit is invalid.": "Lượt thăm hộ không hợp lệ.",
    "Must be a whole number, 1 or more.": "Phải là số nguyên từ 1 trở lên.",
    "Must be a whole number, 0 or more.": "Phải là số nguyên từ 0 trở lên.",
    "Must be one of {choices}.": "Phải là một trong: {choices}.",
    "Must be a lowercase UUID.": "Phải là UUID viết thường.",
    "A new visit has no base_version (leave it out, null or 0).": (
        "Lượt thăm hộ mới không có base_version (bỏ trống, để null hoặc 0)."
    ),
    "Must be a string or null.": "Phải là chuỗi ký tự hoặc null.",
    "At most {limit} characters.": "Tối đa {limit} ký tự.",
    "Must not contain the NUL character.": "Không được chứa ký tự NUL.",
    "Must be a non-empty string.": "Phải là chuỗi ký tự không rỗng.",
    "Must be a unit ref scheme:code.": "Phải là mã đơn vị dạng scheme:code.",
    "Must be a unit ref scheme:code, or null.": "Phải là mã đơn vị dạng scheme:code, hoặc null.",
    "A household's ward cannot be changed.": "Không thể đổi xã/phường của hộ.",
    "A visit cannot move to another household.": "Không thể chuyển lượt thăm hộ sang hộ khác.",
    "Digits, spaces and + - . ( ) only, at most {max}, or null.": (
        "Chỉ gồm chữ số, dấu cách và + - . ( ), tối đa {max} ký tự, hoặc null."
    ),
    "Must be a number from -{bound} to {bound}, or null.": (
        "Phải là số từ -{bound} đến {bound}, hoặc null."
    ),
    "Give lat and lon together (both numbers or both null).": (
        "Phải có cả lat và lon (cùng là số hoặc cùng là null)."
    ),
    "Must be a whole number from 0 to {max}, or null.": (
        "Phải là số nguyên từ 0 đến {max}, hoặc null."
    ),
    "Must be an RFC 3339 time with its offset.": (
        "Phải là thời điểm theo RFC 3339, có ghi độ lệch múi giờ."
    ),
    "Must be a number, 0 or more, or null.": "Phải là số từ 0 trở lên, hoặc null.",
    "Give all six counts or none.": "Hãy nhập đủ cả sáu số liệu hoặc bỏ trống tất cả.",
    "installed_before + installed_during ({installs}) is more than smartphones ({smartphones}).": (
        "installed_before + installed_during ({installs}) lớn hơn smartphones ({smartphones})."
    ),
    "More smartphones than adults ({adults}).": (
        "Số điện thoại thông minh nhiều hơn số người trưởng thành ({adults})."
    ),
    "More than priority_subjects ({priority_subjects}).": (
        "Lớn hơn priority_subjects ({priority_subjects})."
    ),
    "More priority subjects than adults ({adults}).": (
        "Số đối tượng ưu tiên nhiều hơn số người trưởng thành ({adults})."
    ),
    "Invalid hlc: {message}": "hlc không hợp lệ: {message}",
    "Must be a string <ms>-<counter>-<node>.": "Phải là chuỗi dạng <ms>-<counter>-<node>.",
    "Must have the form <ms>-<counter>-<node>.": "Phải có dạng <ms>-<counter>-<node>.",
    "The milliseconds must be a non-negative integer.": (
        "Phần mili giây phải là số nguyên không âm."
    ),
    "The counter must be an integer from 0 to {max}.": (
        "Phần bộ đếm phải là số nguyên từ 0 đến {max}."
    ),
    "The node must be 1 to {max} printable characters.": (
        "Phần node phải gồm từ 1 đến {max} ký tự in được."
    ),
    # --- the push rules (domain/push.py) ------------------------------------------------
    "Mutation {mutation_id} was already used for different content.": (
        "Số thay đổi {mutation_id} đã được dùng cho một nội dung khác."
    ),
    "Unknown ward.": "Không có xã/phường này.",
    "No ward {ward}.": "Không có xã/phường {ward}.",
    "Unknown group.": "Không có tổ/thôn này.",
    "No residential group {group} in {ward}.": "Không có tổ/thôn {group} trong {ward}.",
    "Household {id} is unknown.": "Không có hộ {id}.",
    "A household cannot move to another ward.": "Hộ không thể chuyển sang xã/phường khác.",
    "Differs from the household's ward.": "Khác với xã/phường của hộ.",
    "Must be a time from {first} to {last}.": "Phải là thời điểm từ {first} đến {last}.",
    "Already used by another record.": "Đã được dùng cho một bản ghi khác.",
    "That group is outside your units.": "Tổ/thôn đó nằm ngoài các đơn vị của bạn.",
    "This ward or group is outside your units.": (
        "Xã/phường hoặc tổ/thôn này nằm ngoài các đơn vị của bạn."
    ),
    "This visit is outside your units.": "Lượt thăm hộ này nằm ngoài các đơn vị của bạn.",
    "base_version is ahead of the household.": ("base_version lớn hơn phiên bản hiện tại của hộ."),
    "The household is at version {version}.": "Hộ đang ở phiên bản {version}.",
    "base_version is ahead of the visit.": (
        "base_version lớn hơn phiên bản hiện tại của lượt thăm hộ."
    ),
    "The visit is at version {version}.": "Lượt thăm hộ đang ở phiên bản {version}.",
    "The visit is at version {version}, not {base_version}.": (
        "Lượt thăm hộ đang ở phiên bản {version}, không phải {base_version}."
    ),
    "The counts do not add up.": "Các số liệu không khớp nhau.",
    "Unknown visit.": "Không có lượt thăm hộ này.",
    "No such visit.": "Không tìm thấy lượt thăm hộ.",
    "Only the device that recorded a visit may change it.": (
        "Chỉ thiết bị đã ghi lượt thăm hộ mới được sửa lượt đó."
    ),
    "A supervisor has {review_status} this visit already.": (
        "Lượt thăm hộ này đã được giám sát viên xét duyệt (trạng thái: {review_status})."
    ),
    "A text of at most 500 characters.": "Phải là văn bản tối đa 500 ký tự.",
    "Invalid void.": "Yêu cầu hủy không hợp lệ.",
    # --- users and their units (domain/roles.py) ----------------------------------------
    "An admin has no units.": "Quản trị viên không gắn với đơn vị nào.",
    "A {role} needs at least one unit.": "Vai trò {role} cần ít nhất một đơn vị.",
    "{ref} is a {level}; a {role} is assigned to a {wanted}.": (
        "{ref} là đơn vị cấp {level}; vai trò {role} được giao cho đơn vị cấp {wanted}."
    ),
    "A password needs at least {min} characters.": "Mật khẩu cần ít nhất {min} ký tự.",
    "A password may not start or end with spaces.": (
        "Mật khẩu không được bắt đầu hoặc kết thúc bằng dấu cách."
    ),
    # --- conflicts and merges (domain/conflicts.py) -------------------------------------
    "The resolution is invalid.": "Cách xử lý không hợp lệ.",
    "Only the resolution set takes values.": "Chỉ cách xử lý set mới kèm theo values.",
    "A possible duplicate is settled by merging the households (POST /households/{id}/merge),"
    " by keep_server (both stay) or by dismissing it.": (
        "Trường hợp nghi trùng được xử lý bằng cách gộp hộ (POST /households/{id}/merge), "
        "bằng keep_server (giữ cả hai hộ) hoặc bằng cách bỏ qua."
    ),
    "Give the values to write (field -> value).": (
        "Hãy gửi các giá trị cần ghi (trường -> giá trị)."
    ),
    "Not a field of this conflict.": "Không phải trường của xung đột này.",
    "Must be true or false.": "Phải là true hoặc false.",
    "The household was merged into {into}.": "Hộ đã được gộp vào {into}.",
    "The household was merged into another; settle its survivor instead.": (
        "Hộ đã được gộp vào hộ khác; hãy xử lý hộ được giữ lại."
    ),
    "Only visits are voided.": "Chỉ lượt thăm hộ mới có thể bị hủy.",
    "No residential group {group} in this ward.": ("Không có tổ/thôn {group} trong xã/phường này."),
    "A household cannot be merged into itself.": "Không thể gộp một hộ vào chính nó.",
    "That household was merged into {into}; use that one.": (
        "Hộ đó đã được gộp vào {into}; hãy dùng hộ này."
    ),
    "Only households of the same ward can be merged.": "Chỉ gộp được các hộ cùng xã/phường.",
    "This household was merged into {into} already.": "Hộ này đã được gộp vào {into} rồi.",
    "These households cannot be merged.": "Không thể gộp các hộ này.",
    # --- review (domain/review.py) ------------------------------------------------------
    "Unknown review action {action}.": "Thao tác duyệt không xác định: {action}.",
    "A voided visit cannot be reviewed.": "Không thể duyệt lượt thăm hộ đã bị hủy.",
    # --- the units file (domain/geography.py; `field-server units import`) --------------
    "{where} column {column}: {message}": "{where} cột {column}: {message}",
    "no details": "không có chi tiết",
    "{count} error(s) in the units file; first: {first}": (
        "{count} lỗi trong tệp đơn vị; lỗi đầu tiên: {first}"
    ),
    "the file is not UTF-8 text (byte 0x{byte} at offset {offset}); save it as 'CSV UTF-8 "
    "(comma delimited)'": (
        "tệp không phải văn bản UTF-8 (byte 0x{byte} ở vị trí {offset}); hãy lưu lại dưới "
        "dạng 'CSV UTF-8 (comma delimited)'"
    ),
    "the file contains NUL bytes: it is not a CSV text file (a spreadsheet must be saved as "
    "'CSV UTF-8')": (
        "tệp chứa byte NUL: đây không phải tệp văn bản CSV (bảng tính phải được lưu dưới "
        "dạng 'CSV UTF-8')"
    ),
    "the file is empty; the first line must be the header {columns}": (
        "tệp rỗng; dòng đầu tiên phải là dòng tiêu đề {columns}"
    ),
    "not valid CSV: {error}": "CSV không hợp lệ: {error}",
    "columns are separated by ';'; the file must use commas": (
        "các cột được phân cách bằng ';'; tệp phải dùng dấu phẩy"
    ),
    "#{number} (empty header)": "#{number} (tiêu đề trống)",
    "unknown column; expected {expected}": "cột không xác định; cần các cột {expected}",
    "column appears twice": "cột xuất hiện hai lần",
    "missing column; expected {expected}": "thiếu cột; cần các cột {expected}",
    "the line has {fields} fields but the header has {width}": (
        "dòng có {fields} trường nhưng dòng tiêu đề có {width}"
    ),
    "must not be empty": "không được để trống",
    "{scheme} is not a scheme name: lowercase letters, digits, '.', '_' and '-', at most "
    "{max} characters (e.g. gso-2020)": (
        "{scheme} không phải tên hệ mã: chữ thường, chữ số, '.', '_' và '-', tối đa {max} "
        "ký tự (ví dụ gso-2020)"
    ),
    "{code} is not a unit code: letters, digits, '.', '_' and '-', at most {max} characters": (
        "{code} không phải mã đơn vị: chữ cái, chữ số, '.', '_' và '-', tối đa {max} ký tự"
    ),
    "{code} is not a unit code": "{code} không phải mã đơn vị",
    "is {length} characters long; at most {max}": "dài {length} ký tự; tối đa {max}",
    "{level} is not a level; use {levels}": "{level} không phải cấp đơn vị; hãy dùng {levels}",
    "{raw} is not a whole number (write 12345, without separators)": (
        "{raw} không phải số nguyên (viết 12345, không có dấu phân cách)"
    ),
    "{value} is negative": "{value} là số âm",
    "{value} is too large": "{value} quá lớn",
    "{raw} is not a fraction such as 0.6": "{raw} không phải tỷ lệ dạng 0.6",
    "{raw} is not a fraction above 0 and at most 1 (60% is written 0.6)": (
        "{raw} không phải tỷ lệ lớn hơn 0 và tối đa bằng 1 (60% viết là 0.6)"
    ),
    "{scheme}:{code} is already on line {line}": "{scheme}:{code} đã có ở dòng {line}",
    "{scheme}:{code} is stored as a {level}; the level of an existing unit cannot change "
    "(load a reorganised geography as a new scheme)": (
        "{scheme}:{code} đang được lưu là cấp {level}; không thể đổi cấp của đơn vị đã có "
        "(hãy nạp địa giới đã sắp xếp lại dưới một hệ mã mới)"
    ),
    "a {level} needs a parent ({allowed})": "đơn vị cấp {level} cần có đơn vị cha ({allowed})",
    "a province has no parent": "cấp tỉnh không có đơn vị cha",
    "a unit cannot be its own parent": "một đơn vị không thể là cha của chính nó",
    "unknown parent {scheme}:{parent}: it is neither in this file nor stored": (
        "không có đơn vị cha {scheme}:{parent}: không có trong tệp này và cũng chưa được lưu"
    ),
    "the parent {scheme}:{parent} is a {parent_level}; a {level}'s parent must be a {allowed}": (
        "đơn vị cha {scheme}:{parent} là cấp {parent_level}; đơn vị cha của cấp {level} "
        "phải là cấp {allowed}"
    ),
    "parents form a cycle: {codes}": "các đơn vị cha tạo thành vòng lặp: {codes}",
}
