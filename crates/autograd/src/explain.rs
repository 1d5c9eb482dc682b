//! What explain mode writes: each backward step's rule as a formula, the
//! values when they are few enough to read, in English or in the Chinese
//! of the textbook this project teaches from.

use mnemon_tensor::{Element, Tensor};

/// The language of explain mode's lines ([`Tape::set_explain_language`]).
///
/// [`Tape::set_explain_language`]: crate::Tape::set_explain_language
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Language {
    /// English (the default).
    #[default]
    English,
    /// Simplified Chinese, with the textbook's terms (梯度, 局部导数).
    Chinese,
}

/// The words of one explain line.
pub(crate) struct Words {
    pub node: &'static str,
    pub incoming: &'static str,
    pub rule: &'static str,
    pub to_input: &'static str,
    pub input: &'static str,
    pub value: &'static str,
    pub local: &'static str,
    pub gradient: &'static str,
    pub constant: &'static str,
    pub not_kept: &'static str,
    pub gets_none: &'static str,
}

impl Words {
    pub(crate) fn of(language: Language) -> Self {
        match language {
            Language::English => Words {
                node: "node",
                incoming: "incoming gradient",
                rule: "rule",
                to_input: "to input",
                input: "input",
                value: "value",
                local: "local derivative",
                gradient: "gradient",
                constant: "constant",
                not_kept: "not kept",
                gets_none: "gets none",
            },
            Language::Chinese => Words {
                node: "节点",
                incoming: "传入梯度",
                rule: "规则",
                to_input: "给输入",
                input: "输入",
                value: "值",
                local: "局部导数",
                gradient: "梯度",
                constant: "常量",
                not_kept: "未保存",
                gets_none: "不需要梯度",
            },
        }
    }
}

/// Up to this many elements a value is printed in full; beyond, its shape.
const READABLE: usize = 8;

/// A value as explain mode prints it: a scalar as a number, a small
/// tensor as its elements and shape, a large one as its shape.
pub(crate) fn fmt_value<T: Element>(t: &Tensor<T>) -> String {
    match t.numel() {
        1 => format!("{:.6}", t.item()),
        n if n <= READABLE => {
            let items: Vec<String> = t.to_vec().iter().map(|v| format!("{v:.4}")).collect();
            format!("[{}] {:?}", items.join(", "), t.shape())
        }
        _ => format!("{:?}", t.shape()),
    }
}

/// [`formula`] in `language`: the formulas are the same, the words
/// around them translated.
pub(crate) fn formula_in(op: &str, language: Language) -> Option<String> {
    let f = formula(op)?;
    Some(match language {
        Language::English => f.to_string(),
        Language::Chinese => [
            ("(summed over broadcast axes)", "（在广播的轴上求和）"),
            (
                ", copied to every summed element",
                "，复制到每个被求和的元素",
            ),
            (
                ", copied to every averaged element",
                "，复制到每个被平均的元素",
            ),
            (" reshaped back", " 变回原形状"),
            (" with the axes swapped back", " 把轴换回原位"),
        ]
        .iter()
        .fold(f.to_string(), |f, (en, zh)| f.replace(en, zh)),
    })
}

/// An op's gradient rule as a formula in the incoming gradient `g`, its
/// inputs (`x`; `A`, `B`) and its output (`y`, or `s` for a sigmoid), for
/// the ops a reader meets first. `None` for the rest.
pub(crate) fn formula(op: &str) -> Option<&'static str> {
    Some(match op {
        "add" => "dA = g, dB = g (summed over broadcast axes)",
        "sub" => "dA = g, dB = −g (summed over broadcast axes)",
        "mul" => "dA = g·B, dB = g·A",
        "div" => "dA = g/B, dB = −g·A/B²",
        "matmul" => "dA = g·Bᵀ, dB = Aᵀ·g",
        "linear" => "dx = g·W, dW = gᵀ·x, db = Σ g",
        "sigmoid" => "dx = g·s(1−s)",
        "tanh" => "dx = g·(1−y²)",
        "relu" => "dx = g·[x > 0]",
        "exp" => "dx = g·eˣ",
        "log" => "dx = g/x",
        "neg" => "dx = −g",
        "square" => "dx = g·2x",
        "powi" => "dx = g·n·xⁿ⁻¹",
        "add_scalar" => "dx = g",
        "mul_scalar" => "dx = g·c",
        "sum_all" | "sum" => "dx = g, copied to every summed element",
        "mean" => "dx = g/N, copied to every averaged element",
        "squared_error" => "dA = g·2(A−B)/N, dB = −dA",
        "softmax" => "dx = y·(g − Σ g·y)",
        "log_softmax" => "dx = g − softmax(x)·Σ g",
        "reshape" | "squeeze" | "unsqueeze" => "dx = g reshaped back",
        "transpose" | "permute" => "dx = g with the axes swapped back",
        _ => return None,
    })
}
