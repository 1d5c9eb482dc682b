//! `#[derive(Module)]` for mnemon models: writes `Module`'s visitors
//! (`visit`, `visit_mut`), the train/eval switch and the untracked-state
//! visitor from the struct's field names, so a model lists its parameters
//! once. `forward` stays yours: write it as an inherent method
//! `fn forward<'t>(&self, x: &Var<'t, T>) -> Var<'t, T>`; the derived
//! `Module::forward` calls it (forgetting it is a compile error, not a
//! recursion).
//!
//! Fields may be `Param`s, modules, and `Vec`s or `Option`s of either:
//! `encoder.layers.0.attn.weight`-style names come from the field names
//! (`Vec` items get their index, `None` contributes nothing).
//! Attributes on a field: `#[module(skip)]` (not a module: a size, a
//! flag), `#[module(name = "...")]` (save under another name, e.g. to
//! match a PyTorch checkpoint); two fields saved under one name are a
//! compile error. On the struct: `#[module(element = f64)]` for a
//! non-generic model of another element type than `f32`, and
//! `#[module(crate = "mnemon::nn")]` when `mnemon_nn` is reached through
//! another path.
//!
//! The derive lives in the `mnemon-nn` docs with a compiled example.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::quote;
use syn::{
    parse_macro_input, Data, DeriveInput, Fields, GenericArgument, LitStr, PathArguments, Type,
};

/// Derives `mnemon_nn::Module` from a struct's fields (see the crate docs).
#[proc_macro_derive(Module, attributes(module))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// How a field takes part.
enum Kind {
    Param,
    Module,
    Vec(Box<Kind>),
    Option(Box<Kind>),
}

/// The single type argument of `Vec<..>`/`Option<..>` if `ty` is one.
fn wrapped<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

fn kind(ty: &Type) -> Kind {
    if let Some(t) = wrapped(ty, "Vec") {
        return Kind::Vec(Box::new(kind(t)));
    }
    if let Some(t) = wrapped(ty, "Option") {
        return Kind::Option(Box::new(kind(t)));
    }
    match ty {
        Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Param") => Kind::Param,
        _ => Kind::Module,
    }
}

/// Code visiting `value` (an expression of a field's type) under the
/// name expression `name` (a `String`), with `f` in scope.
fn visit_code(k: &Kind, value: Tokens, name: Tokens, krate: &Tokens, mutable: bool) -> Tokens {
    match k {
        Kind::Param => quote! { f(&#name, #value); },
        Kind::Module => {
            if mutable {
                quote! { #krate::visit_mut(#value, &#name, f); }
            } else {
                quote! { #krate::visit(#value, &#name, f); }
            }
        }
        Kind::Vec(inner) => {
            let body = visit_code(
                inner,
                quote!(item),
                quote!(format!("{}.{}", #name, i)),
                krate,
                mutable,
            );
            let iter = if mutable {
                quote!(iter_mut)
            } else {
                quote!(iter)
            };
            quote! { for (i, item) in (#value).#iter().enumerate() { #body } }
        }
        Kind::Option(inner) => {
            let body = visit_code(inner, quote!(item), name, krate, mutable);
            let m = if mutable {
                quote!(as_mut)
            } else {
                quote!(as_ref)
            };
            quote! { if let Some(item) = (#value).#m() { #body } }
        }
    }
}

/// Code calling `call(module, name)` on every module inside `value`.
fn module_code(
    k: &Kind,
    value: Tokens,
    name: Tokens,
    call: &dyn Fn(Tokens, Tokens) -> Tokens,
    mutable: bool,
) -> Tokens {
    match k {
        Kind::Param => quote! {},
        Kind::Module => call(value, name),
        Kind::Vec(inner) => {
            let body = module_code(
                inner,
                quote!(item),
                quote!(format!("{}.{}", #name, i)),
                call,
                mutable,
            );
            let iter = if mutable {
                quote!(iter_mut)
            } else {
                quote!(iter)
            };
            quote! { for (i, item) in (#value).#iter().enumerate() { let _ = &i; #body } }
        }
        Kind::Option(inner) => {
            let body = module_code(inner, quote!(item), name, call, mutable);
            let m = if mutable {
                quote!(as_mut)
            } else {
                quote!(as_ref)
            };
            quote! { if let Some(item) = (#value).#m() { #body } }
        }
    }
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let mut krate: Tokens = quote!(::mnemon_nn);
    let mut element: Option<Type> = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let s: LitStr = meta.value()?.parse()?;
                krate = s.parse::<syn::Path>()?.into_token_stream_path();
                Ok(())
            } else if meta.path.is_ident("element") {
                element = Some(meta.value()?.parse()?);
                Ok(())
            } else {
                Err(meta.error("expected `crate = \"...\"` or `element = TYPE`"))
            }
        })?;
    }
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "#[derive(Module)] needs a struct",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "#[derive(Module)] needs named fields",
        ));
    };
    let first_type = input.generics.type_params().next().map(|p| p.ident.clone());
    let elem: Tokens = match (&element, &first_type) {
        (Some(t), _) => quote!(#t),
        (None, Some(t)) => quote!(#t),
        (None, None) => quote!(f32),
    };
    // `Module::<E>` named in full: fields like `Relu` are modules for
    // every element type, so the type must be spelled out
    let module_trait: Tokens = quote!(#krate::Module::<#elem>);
    let mut seen: Vec<(String, Span)> = Vec::new();
    let (mut vis, mut vis_mut, mut train, mut untracked) =
        (Tokens::new(), Tokens::new(), Tokens::new(), Tokens::new());
    for field in &fields.named {
        let ident = field.ident.as_ref().expect("named");
        let mut name = ident.to_string();
        let mut skip = false;
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("module")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("skip") {
                    skip = true;
                    Ok(())
                } else if meta.path.is_ident("name") {
                    name = meta.value()?.parse::<LitStr>()?.value();
                    Ok(())
                } else {
                    Err(meta.error("expected `skip` or `name = \"...\"`"))
                }
            })?;
        }
        if skip {
            continue;
        }
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            let mut e = syn::Error::new_spanned(
                ident,
                format!("#[derive(Module)]: two fields are saved under the name `{name}`"),
            );
            e.combine(syn::Error::new(*first, "the other one is here"));
            return Err(e);
        }
        seen.push((name.clone(), ident.span()));
        let k = kind(&field.ty);
        let path = quote!(#krate::__derive::join(prefix, #name));
        vis.extend(visit_code(
            &k,
            quote!(&self.#ident),
            path.clone(),
            &module_trait,
            false,
        ));
        vis_mut.extend(visit_code(
            &k,
            quote!(&mut self.#ident),
            path.clone(),
            &module_trait,
            true,
        ));
        let kr = module_trait.clone();
        train.extend(module_code(
            &k,
            quote!(&mut self.#ident),
            path.clone(),
            &move |v, _| quote! { #kr::set_training(#v, training); },
            true,
        ));
        let kr = module_trait.clone();
        untracked.extend(module_code(
            &k,
            quote!(&self.#ident),
            path,
            &move |v, n| quote! { #kr::visit_untracked(#v, &#n, f); },
            false,
        ));
    }
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let var = quote!(#krate::__derive::Var);
    let param = quote!(#krate::Param<#elem>);
    Ok(quote! {
        impl #impl_generics #krate::Module<#elem> for #ident #ty_generics #where_clause {
            #[track_caller]
            fn forward<'t>(&self, x: &#var<'t, #elem>) -> #var<'t, #elem> {
                // The struct's inherent `forward` (inherent methods take
                // precedence). Without one, this trait's `forward` makes
                // the call ambiguous with `Module::forward`: a compile
                // error naming what is missing, instead of a recursion.
                #[allow(dead_code)]
                trait DeriveModuleNeedsAnInherentForward {
                    fn forward(&self) {}
                }
                impl #impl_generics DeriveModuleNeedsAnInherentForward for #ident #ty_generics #where_clause {}
                #ident::forward(self, x)
            }

            #[allow(unused_variables)]
            fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &#param)) {
                #vis
            }

            #[allow(unused_variables)]
            fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut #param)) {
                #vis_mut
            }

            #[allow(unused_variables)]
            fn set_training(&mut self, training: bool) {
                #train
            }

            #[allow(unused_variables)]
            fn visit_untracked(&self, prefix: &str, f: &mut dyn FnMut(&str)) {
                #untracked
            }
        }
    })
}

/// `syn::Path` to tokens.
trait PathTokens {
    fn into_token_stream_path(self) -> Tokens;
}

impl PathTokens for syn::Path {
    fn into_token_stream_path(self) -> Tokens {
        quote!(#self)
    }
}
