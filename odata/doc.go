// Package odata parses and runs the OData query options of
// Microsoft.PolicyInsights (policyStates and policyEvents queryResults,
// summarize): $filter, $apply, $orderby and $select; the $filter of the
// ARM resource lists is parsed here too. It uses the standard library
// only.
//
// ParseFilter, ParseApply, ParseOrderBy and ParseSelect take the
// properties a query may name (Fields: canonical name and type). Property
// names are matched ignoring ASCII case (PolicyInsights accepts
// complianceState and ComplianceState alike) and come back canonical; an
// unknown property is an error that lists the known ones and names it
// in Error.Property. Errors are *Error: the parameter, the byte offset
// (0-based) in its value and what is wrong. A value is at most MaxLen
// bytes and nests at most MaxDepth levels (parentheses, not, function
// calls); no input makes a parser panic (FuzzParseFilter).
//
// # $filter
//
// OData 4.0 boolean expressions: eq, ne, gt, ge, lt, le; and, or, not;
// parentheses; startswith, endswith, contains (two strings → boolean),
// substringof (OData 2's contains with its arguments the other way round,
// substringof('needle', Haystack), which ARM's $filter uses), tolower,
// toupper; literals 'string' (a quote inside is doubled), numbers, true,
// false, null, and date-times written 2024-05-01T12:00:00Z, 2024-05-01,
// datetime'…' or, compared with a datetime property, '…'. A boolean
// property alone is a condition (IsCompliant, not IsCompliant). Keywords,
// function names and literals ignore ASCII case. The 'in' operator of
// OData 4.01 is refused with a hint to write an or-chain: it is not in the
// OData version the PolicyInsights REST reference (2019-10-01) describes,
// and its examples and the portal's queries never use it. Arithmetic,
// has, lambda operators and other functions are refused.
//
// Semantics decisions:
//
//   - String comparisons (eq, ne, gt, ge, lt, le) and startswith,
//     endswith, contains, substringof ignore case. OData itself compares
//     strings case-sensitively, but what PolicyInsights filters on is ARM ids,
//     names, types, effects and states, which ARM treats as
//     case-insensitive; PolicyInsights returns ids lower-cased
//     (…/microsoft.authorization/policyassignments/…) while clients filter
//     with the ids they hold (…/Microsoft.Authorization/policyAssignments/…),
//     and the portal writes effects as 'deny' or 'Deny'. A case-sensitive
//     comparison would silently match nothing. tolower and toupper are
//     therefore no-ops in comparisons but are accepted, since clients
//     write them.
//   - Case folding is ASCII only. It is what SQLite's lower() does, so the
//     SQL of ToSQL and Eval agree on every row; a non-ASCII string literal
//     is never rendered as SQL (PostgreSQL's lower() folds more).
//   - Null: a missing property and a nil value are null. null eq null is
//     true, null eq 'x' false, null ne 'x' true, an ordering with a null
//     operand false (OData 4.0 part 2 §5.1.1.1). A function of a null
//     argument is null, and and/or/not treat null as unknown (true and
//     null is null, false and null is false, not null is null), as OData
//     and SQL do; a record passes the filter only when it is true.
//   - Numbers are float64; times compare as instants.
//
// Eval evaluates a filter against a Record; ToSQL renders the subset that
// maps to columns as a WHERE condition selecting the same rows (the caller
// falls back to Eval when it cannot).
//
// # $apply
//
// Transformations separated by '/': filter(<condition>), groupby((f, …)),
// groupby((f, …), aggregate($count as Alias)), aggregate($count as Alias),
// as the PolicyInsights examples chain them
// (groupby((PolicyAssignmentId, ResourceId))/groupby((PolicyAssignmentId),
// aggregate($count as NumNonCompliantResources))). Each transformation sees
// the properties the previous one produced (Apply.Fields gives those of
// the result, for $orderby and $select). Groups are keyed ignoring ASCII
// case, like eq, keep the first record's values and come out in the order
// of their first record; counts are int64.
//
// # $orderby and $select
//
// $orderby: properties (or aggregate aliases) with asc or desc; the
// default is asc, as OData 4.0 says. (The PolicyInsights REST reference
// text calls desc the default, but its own examples write "desc"
// wherever they want it; this is marked uncertain.) Null sorts first in
// ascending order, strings ignore ASCII case, the sort is stable.
// $select: a list of properties, returned canonical and without
// duplicates.
package odata
