/**
 * The messages of the app's checks (rules.js), one object per language: msgid -> text.
 *
 * A msgid is the English text the server sends for the same fault (field_server/messages/:
 * English is the source language), with {names} for the values; the Vietnamese is the
 * server's own (its catalogue, field_server.messages.VI). tests/unit/test_shared_vectors.py reads the two
 * objects below as JSON and fails when one differs from the server's catalogue, so keep each
 * one a plain JSON object literal.
 */

export const EN = {
  "A mutation must be an object.": "A mutation must be an object.",
  "Must be an object.": "Must be an object.",
  "The mutation is invalid.": "The mutation is invalid.",
  "Unknown field.": "Unknown field.",
  "Must be a whole number, 1 or more.": "Must be a whole number, 1 or more.",
  "Must be one of {choices}.": "Must be one of {choices}.",
  "Must be a lowercase UUID.": "Must be a lowercase UUID.",
  "A new visit has no base_version (leave it out, null or 0).": "A new visit has no base_version (leave it out, null or 0).",
  "Required for this type.": "Required for this type.",
  "Must be a whole number, 0 or more.": "Must be a whole number, 0 or more.",
  "Required.": "Required.",
  "Must be a string <ms>-<counter>-<node>.": "Must be a string <ms>-<counter>-<node>.",
  "Must have the form <ms>-<counter>-<node>.": "Must have the form <ms>-<counter>-<node>.",
  "The milliseconds must be a non-negative integer.": "The milliseconds must be a non-negative integer.",
  "The counter must be an integer from 0 to {max}.": "The counter must be an integer from 0 to {max}.",
  "The node must be 1 to {max} printable characters.": "The node must be 1 to {max} printable characters.",
  "The household is invalid.": "The household is invalid.",
  "A household's ward cannot be changed.": "A household's ward cannot be changed.",
  "Must be a unit ref scheme:code.": "Must be a unit ref scheme:code.",
  "Must be a unit ref scheme:code, or null.": "Must be a unit ref scheme:code, or null.",
  "Must be a non-empty string.": "Must be a non-empty string.",
  "At most {limit} characters.": "At most {limit} characters.",
  "Must not contain the NUL character.": "Must not contain the NUL character.",
  "Must be a string or null.": "Must be a string or null.",
  "Digits, spaces and + - . ( ) only, at most {max}, or null.": "Digits, spaces and + - . ( ) only, at most {max}, or null.",
  "Must be a number from -{bound} to {bound}, or null.": "Must be a number from -{bound} to {bound}, or null.",
  "Give lat and lon together (both numbers or both null).": "Give lat and lon together (both numbers or both null).",
  "The visit is invalid.": "The visit is invalid.",
  "A visit cannot move to another household.": "A visit cannot move to another household.",
  "Must be an RFC 3339 time with its offset.": "Must be an RFC 3339 time with its offset.",
  "Must be a time from {first} to {last}.": "Must be a time from {first} to {last}.",
  "Must be a whole number from 0 to {max}, or null.": "Must be a whole number from 0 to {max}, or null.",
  "Must be a number, 0 or more, or null.": "Must be a number, 0 or more, or null.",
  "The counts do not add up.": "The counts do not add up.",
  "Required when the outcome is {outcome}.": "Required when the outcome is {outcome}.",
  "Give all six counts or none.": "Give all six counts or none.",
  "installed_before + installed_during ({installs}) is more than smartphones ({smartphones}).": "installed_before + installed_during ({installs}) is more than smartphones ({smartphones}).",
  "More smartphones than adults ({adults}).": "More smartphones than adults ({adults}).",
  "More than priority_subjects ({priority_subjects}).": "More than priority_subjects ({priority_subjects}).",
  "More priority subjects than adults ({adults}).": "More priority subjects than adults ({adults}).",
  "Invalid void.": "Invalid void.",
  "A text of at most 500 characters.": "A text of at most 500 characters."
};

export const VI = {
  "A mutation must be an object.": "Mỗi thay đổi phải là một đối tượng JSON.",
  "Must be an object.": "Phải là một đối tượng JSON.",
  "The mutation is invalid.": "Thay đổi không hợp lệ.",
  "Unknown field.": "Trường không xác định.",
  "Must be a whole number, 1 or more.": "Phải là số nguyên từ 1 trở lên.",
  "Must be one of {choices}.": "Phải là một trong: {choices}.",
  "Must be a lowercase UUID.": "Phải là UUID viết thường.",
  "A new visit has no base_version (leave it out, null or 0).": "Lượt đến nhà mới không có base_version (bỏ trống, để null hoặc 0).",
  "Required for this type.": "Bắt buộc với loại thay đổi này.",
  "Must be a whole number, 0 or more.": "Phải là số nguyên từ 0 trở lên.",
  "Required.": "Bắt buộc phải có.",
  "Must be a string <ms>-<counter>-<node>.": "Phải là chuỗi dạng <ms>-<counter>-<node>.",
  "Must have the form <ms>-<counter>-<node>.": "Phải có dạng <ms>-<counter>-<node>.",
  "The milliseconds must be a non-negative integer.": "Phần mili giây phải là số nguyên không âm.",
  "The counter must be an integer from 0 to {max}.": "Phần bộ đếm phải là số nguyên từ 0 đến {max}.",
  "The node must be 1 to {max} printable characters.": "Phần node phải gồm từ 1 đến {max} ký tự in được.",
  "The household is invalid.": "Thông tin hộ không hợp lệ.",
  "A household's ward cannot be changed.": "Không thể đổi xã/phường của hộ.",
  "Must be a unit ref scheme:code.": "Phải là mã đơn vị dạng scheme:code.",
  "Must be a unit ref scheme:code, or null.": "Phải là mã đơn vị dạng scheme:code, hoặc để trống.",
  "Must be a non-empty string.": "Phải là chuỗi ký tự không rỗng.",
  "At most {limit} characters.": "Tối đa {limit} ký tự.",
  "Must not contain the NUL character.": "Không được chứa ký tự NUL.",
  "Must be a string or null.": "Phải là chuỗi ký tự hoặc để trống.",
  "Digits, spaces and + - . ( ) only, at most {max}, or null.": "Chỉ gồm chữ số, dấu cách và + - . ( ), tối đa {max} ký tự, hoặc để trống.",
  "Must be a number from -{bound} to {bound}, or null.": "Phải là số từ -{bound} đến {bound}, hoặc để trống.",
  "Give lat and lon together (both numbers or both null).": "Phải có cả lat và lon (cùng là số hoặc cùng là null).",
  "The visit is invalid.": "Lượt đến nhà không hợp lệ.",
  "A visit cannot move to another household.": "Không thể chuyển lượt đến nhà sang hộ khác.",
  "Must be an RFC 3339 time with its offset.": "Phải là thời điểm theo RFC 3339, có ghi độ lệch múi giờ.",
  "Must be a time from {first} to {last}.": "Phải là thời điểm từ {first} đến {last}.",
  "Must be a whole number from 0 to {max}, or null.": "Phải là số nguyên từ 0 đến {max}, hoặc để trống.",
  "Must be a number, 0 or more, or null.": "Phải là số từ 0 trở lên, hoặc để trống.",
  "The counts do not add up.": "Các số liệu không khớp nhau.",
  "Required when the outcome is {outcome}.": "Bắt buộc khi kết quả là {outcome}.",
  "Give all six counts or none.": "Hãy nhập đủ cả sáu số liệu hoặc bỏ trống tất cả.",
  "installed_before + installed_during ({installs}) is more than smartphones ({smartphones}).": "installed_before + installed_during ({installs}) lớn hơn smartphones ({smartphones}).",
  "More smartphones than adults ({adults}).": "Số điện thoại thông minh nhiều hơn số người trưởng thành ({adults}).",
  "More than priority_subjects ({priority_subjects}).": "Lớn hơn priority_subjects ({priority_subjects}).",
  "More priority subjects than adults ({adults}).": "Số đối tượng ưu tiên nhiều hơn số người trưởng thành ({adults}).",
  "Invalid void.": "Yêu cầu hủy không hợp lệ.",
  "A text of at most 500 characters.": "Phải là văn bản tối đa 500 ký tự."
};

/** @type {Record<string, Record<string, string>>} */
export const MESSAGES = { en: EN, vi: VI };

/**
 * A message in a language, its {names} filled with `values`; an unknown language is English.
 * @param {string} msgid @param {Record<string, string | number>} [values] @param {string} [lang]
 */
export function say(msgid, values = {}, lang = "vi") {
  const text = (MESSAGES[lang] || EN)[msgid];
  if (text === undefined) throw new Error(`no message ${msgid}`);
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
}
