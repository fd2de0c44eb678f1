// Package deepequal compares values of API types field by field, as
// reflect.DeepEqual does, with a comparison planned once per type and run
// on memory directly: no reflect.Value per field, no cycle bookkeeping (API
// objects are trees) and no allocation. It lets the Router tell whether an
// object it compiled before is unchanged, by content, at a small fraction
// of reflect.DeepEqual's cost.
package deepequal

import (
	"reflect"
	"unsafe"
)

// eqFunc reports whether the values of one type at a and b are deeply
// equal.
type eqFunc func(a, b unsafe.Pointer) bool

// For returns the equality of values of type T. Plan it once (a package
// variable, or when a long-lived object is built) and reuse it: planning
// walks the type.
func For[T any]() func(a, b *T) bool {
	eq := plan(reflect.TypeFor[T](), map[reflect.Type]*eqFunc{})
	return func(a, b *T) bool {
		if a == b {
			return true
		}
		if a == nil || b == nil {
			return false
		}
		return eq(unsafe.Pointer(a), unsafe.Pointer(b))
	}
}

// sliceHeader is the layout of a slice value.
type sliceHeader struct {
	data unsafe.Pointer
	len  int
	cap  int
}

// plan builds the equality of type t. A type met again while planning (a
// recursive type) calls the Func planned for it once it is filled in.
func plan(t reflect.Type, seen map[reflect.Type]*eqFunc) eqFunc {
	if f, ok := seen[t]; ok {
		return func(a, b unsafe.Pointer) bool { return (*f)(a, b) }
	}
	var f eqFunc
	seen[t] = &f
	switch t.Kind() {
	case reflect.Bool, reflect.Int8, reflect.Uint8:
		f = func(a, b unsafe.Pointer) bool { return *(*uint8)(a) == *(*uint8)(b) }
	case reflect.Int16, reflect.Uint16:
		f = func(a, b unsafe.Pointer) bool { return *(*uint16)(a) == *(*uint16)(b) }
	case reflect.Int32, reflect.Uint32:
		f = func(a, b unsafe.Pointer) bool { return *(*uint32)(a) == *(*uint32)(b) }
	case reflect.Int, reflect.Uint, reflect.Int64, reflect.Uint64, reflect.Uintptr:
		if t.Size() == 8 {
			f = func(a, b unsafe.Pointer) bool { return *(*uint64)(a) == *(*uint64)(b) }
		} else {
			f = func(a, b unsafe.Pointer) bool { return *(*uint32)(a) == *(*uint32)(b) }
		}
	case reflect.Float32:
		f = func(a, b unsafe.Pointer) bool { return *(*float32)(a) == *(*float32)(b) }
	case reflect.Float64:
		f = func(a, b unsafe.Pointer) bool { return *(*float64)(a) == *(*float64)(b) }
	case reflect.String:
		f = func(a, b unsafe.Pointer) bool { return *(*string)(a) == *(*string)(b) }
	case reflect.Pointer:
		elem := plan(t.Elem(), seen)
		f = func(a, b unsafe.Pointer) bool {
			pa, pb := *(*unsafe.Pointer)(a), *(*unsafe.Pointer)(b)
			if pa == nil || pb == nil {
				return pa == pb
			}
			return pa == pb || elem(pa, pb)
		}
	case reflect.Slice:
		elem := plan(t.Elem(), seen)
		size := t.Elem().Size()
		f = func(a, b unsafe.Pointer) bool {
			sa, sb := (*sliceHeader)(a), (*sliceHeader)(b)
			if (sa.data == nil) != (sb.data == nil) || sa.len != sb.len {
				return false
			}
			if sa.data == sb.data {
				return true
			}
			for i := 0; i < sa.len; i++ {
				off := uintptr(i) * size
				if !elem(unsafe.Add(sa.data, off), unsafe.Add(sb.data, off)) {
					return false
				}
			}
			return true
		}
	case reflect.Array:
		elem := plan(t.Elem(), seen)
		size, n := t.Elem().Size(), t.Len()
		f = func(a, b unsafe.Pointer) bool {
			for i := 0; i < n; i++ {
				off := uintptr(i) * size
				if !elem(unsafe.Add(a, off), unsafe.Add(b, off)) {
					return false
				}
			}
			return true
		}
	case reflect.Struct:
		// Fields are compared in one flat list, nested structs inlined,
		// and the commonest kinds of API types (strings, optional
		// pointers, integers, booleans) inline: most optional fields are
		// nil on both sides, and a call per field costs more than the
		// check.
		fields := flatten(t, 0, seen, nil)
		f = func(a, b unsafe.Pointer) bool {
			for i := range fields {
				fd := &fields[i]
				pa, pb := unsafe.Add(a, fd.off), unsafe.Add(b, fd.off)
				switch fd.op {
				case opString:
					if *(*string)(pa) != *(*string)(pb) {
						return false
					}
				case opPointer:
					ea, eb := *(*unsafe.Pointer)(pa), *(*unsafe.Pointer)(pb)
					if ea == eb {
						continue
					}
					if ea == nil || eb == nil || !fd.eq(ea, eb) {
						return false
					}
				case opPtrString:
					ea, eb := *(*unsafe.Pointer)(pa), *(*unsafe.Pointer)(pb)
					if ea != eb && (ea == nil || eb == nil || *(*string)(ea) != *(*string)(eb)) {
						return false
					}
				case opPtrHalf:
					ea, eb := *(*unsafe.Pointer)(pa), *(*unsafe.Pointer)(pb)
					if ea != eb && (ea == nil || eb == nil || *(*uint32)(ea) != *(*uint32)(eb)) {
						return false
					}
				case opWord:
					if *(*uint64)(pa) != *(*uint64)(pb) {
						return false
					}
				case opHalf:
					if *(*uint32)(pa) != *(*uint32)(pb) {
						return false
					}
				case opByte:
					if *(*uint8)(pa) != *(*uint8)(pb) {
						return false
					}
				case opSlice:
					sa, sb := (*sliceHeader)(pa), (*sliceHeader)(pb)
					if (sa.data == nil) != (sb.data == nil) || sa.len != sb.len {
						return false
					}
					if sa.len > 0 && sa.data != sb.data && !fd.eq(pa, pb) {
						return false
					}
				default:
					if !fd.eq(pa, pb) {
						return false
					}
				}
			}
			return true
		}
	default:
		// Maps, interfaces, funcs, channels, complex numbers: rare in API
		// types; compared as reflect.DeepEqual compares them.
		f = func(a, b unsafe.Pointer) bool {
			return reflect.DeepEqual(reflect.NewAt(t, a).Elem().Interface(), reflect.NewAt(t, b).Elem().Interface())
		}
	}
	return f
}

// Ops of a flattened struct field.
const (
	opCall = iota
	opString
	opPointer
	opWord
	opHalf
	opByte
	opSlice
	opPtrString
	opPtrHalf
)

// flatField is one field of a flattened struct: its offset from the
// start of the outermost struct, how it is compared, and the equality of
// what it points to (opPointer) or of the whole field (opSlice, opCall).
type flatField struct {
	off uintptr
	op  int
	eq  eqFunc
}

// flatten appends the fields of struct type t, found at offset base,
// inlining nested structs.
func flatten(t reflect.Type, base uintptr, seen map[reflect.Type]*eqFunc, out []flatField) []flatField {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		off := base + sf.Offset
		ft := sf.Type
		switch ft.Kind() {
		case reflect.Struct:
			if _, recursive := seen[ft]; !recursive {
				out = flatten(ft, off, seen, out)
				continue
			}
			out = append(out, flatField{off: off, op: opCall, eq: plan(ft, seen)})
		case reflect.String:
			out = append(out, flatField{off: off, op: opString})
		case reflect.Pointer:
			switch ek := ft.Elem().Kind(); {
			case ek == reflect.String:
				out = append(out, flatField{off: off, op: opPtrString})
			case ek == reflect.Int32 || ek == reflect.Uint32 || ((ek == reflect.Int || ek == reflect.Uint) && ft.Elem().Size() == 4):
				out = append(out, flatField{off: off, op: opPtrHalf})
			default:
				out = append(out, flatField{off: off, op: opPointer, eq: plan(ft.Elem(), seen)})
			}
		case reflect.Bool, reflect.Int8, reflect.Uint8:
			out = append(out, flatField{off: off, op: opByte})
		case reflect.Int32, reflect.Uint32:
			out = append(out, flatField{off: off, op: opHalf})
		case reflect.Int, reflect.Uint, reflect.Int64, reflect.Uint64, reflect.Uintptr:
			op := opWord
			if ft.Size() == 4 {
				op = opHalf
			}
			out = append(out, flatField{off: off, op: op})
		case reflect.Slice:
			out = append(out, flatField{off: off, op: opSlice, eq: plan(ft, seen)})
		default:
			out = append(out, flatField{off: off, op: opCall, eq: plan(ft, seen)})
		}
	}
	return out
}
